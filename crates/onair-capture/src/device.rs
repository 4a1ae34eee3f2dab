//! The lifecycle every device guard shares: a named thread that opens the device and reports
//! back (within a bound), a stop flag it polls, and a bounded, idempotent stop that joins it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::CaptureError;

/// How long opening a device may take before we give up.
pub(crate) const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stop waits for a driver that does not return.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Given to the thread: the stop flag to poll and where to say whether the device opened.
pub(crate) struct Opening<T> {
    pub stop: Arc<AtomicBool>,
    pub ready: SyncSender<Result<T, CaptureError>>,
}

pub(crate) struct DeviceThread {
    stop: Arc<AtomicBool>,
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
    what: &'static str,
}

impl DeviceThread {
    /// Starts `run` on a thread named `name` and waits until it reports the device open (its
    /// `T`) or failed; `what` ("camera", "microphone") words the errors.
    pub(crate) fn spawn<T: Send + 'static>(
        name: &str,
        what: &'static str,
        run: impl FnOnce(Opening<T>) + Send + 'static,
    ) -> Result<(Self, T), CaptureError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready, ready_rx) = mpsc::sync_channel(1);
        let (done_tx, done) = mpsc::sync_channel(1);
        let opening = Opening {
            stop: stop.clone(),
            ready,
        };
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                run(opening);
                let _ = done_tx.send(());
            })
            .map_err(|e| {
                CaptureError::DeviceLost(format!("cannot start the {what} thread: {e}"))
            })?;
        let mut device = Self {
            stop,
            done,
            thread: Some(thread),
            what,
        };
        match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(opened)) => Ok((device, opened)),
            Ok(Err(err)) => {
                device.stop();
                Err(err)
            }
            Err(_) => {
                device.stop();
                Err(CaptureError::DeviceLost(format!(
                    "the {what} did not open within {OPEN_TIMEOUT:?}; unplug and reconnect it, or pick another"
                )))
            }
        }
    }

    /// Asks the thread to finish and joins it; false if the driver did not return in time
    /// (the thread is then left to finish on its own). Safe to call again.
    pub(crate) fn stop(&mut self) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        let Some(thread) = self.thread.take() else {
            return true;
        };
        if self.done.recv_timeout(CLOSE_TIMEOUT).is_ok() {
            let _ = thread.join();
            true
        } else {
            tracing::warn!(
                "the {} did not close within {CLOSE_TIMEOUT:?}; its thread is left to finish",
                self.what
            );
            false
        }
    }
}

impl Drop for DeviceThread {
    fn drop(&mut self) {
        self.stop();
    }
}
