//! Ownership of native handles, and where they are released.
//!
//! Every native object the SDK hands us is owned by one [`FfiHandle`] and dropped exactly once.
//! A drop normally releases the handle at once, on the dropping thread. A drop that happens
//! inside the SDK's event callback (a frame dropped from a full queue, an event for a room
//! nobody listens to any more, the keepalive of a request that completes) is handed to a
//! thread of ours instead: released there, the object's teardown would run on the SDK's own
//! thread, in the middle of the work that called us back (a room's disconnect, a stream's
//! frame loop), and could be the last reference to a room whose native threads are still
//! winding down. A native abort in libwebrtc (`platform_thread.cc`: `pthread_join` →
//! EDEADLK, a thread joined from itself) was seen in a process that did this. The usual
//! case: a room dropped without `close` (the SDK gave it up) hands its room and participant
//! handles to a detached disconnect, dropped when that completes, inside the callback.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static HANDED_OFF: AtomicUsize = AtomicUsize::new(0);
static RELEASED_ON_SDK_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// True while this thread runs the SDK's event callback.
    static IN_SDK_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as running the SDK's callback until dropped.
pub(crate) struct SdkCallbackScope(());

impl SdkCallbackScope {
    pub(crate) fn enter() -> Self {
        IN_SDK_CALLBACK.with(|c| c.set(true));
        Self(())
    }
}

impl Drop for SdkCallbackScope {
    fn drop(&mut self) {
        IN_SDK_CALLBACK.with(|c| c.set(false));
    }
}

fn on_sdk_thread() -> bool {
    IN_SDK_CALLBACK.with(Cell::get)
}

enum Release {
    Handle(u64),
    /// Answered once every release queued before it is done.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The releasing thread's queue, started when the engine loads (or on first need). The
/// thread lives as long as the process (like the SDK's own runtime) and sleeps while there is
/// nothing to release.
fn releaser() -> &'static mpsc::Sender<Release> {
    static QUEUE: OnceLock<mpsc::Sender<Release>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Release>();
        let started = std::thread::Builder::new()
            .name("onair-livekit-release".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Release::Handle(id) => release(id),
                        Release::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
        if let Err(err) = started {
            // Sends fail from now on (the receiver is gone): such handles stay open.
            tracing::error!(%err, "cannot start the thread that releases native handles");
        }
        tx
    })
}

/// Starts the releasing thread if it is not running yet (the engine does at load).
pub(crate) fn start_releasing() {
    releaser();
}

fn release(id: u64) {
    if on_sdk_thread() {
        RELEASED_ON_SDK_THREAD.fetch_add(1, Ordering::SeqCst);
    }
    crate::engine::drop_native_handle(id);
    #[cfg(test)]
    tests::released_on(id);
    LIVE.fetch_sub(1, Ordering::SeqCst);
}

/// Waits (at most `limit`) until every release handed off so far is done; false if that did
/// not happen in time.
pub(crate) async fn released_handed_off(limit: Duration) -> bool {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    if releaser().send(Release::Flush(done_tx)).is_err() {
        return false;
    }
    matches!(tokio::time::timeout(limit, done_rx).await, Ok(Ok(())))
}

/// Owns one native handle id and drops it exactly once.
#[derive(Debug)]
pub(crate) struct FfiHandle(u64);

impl FfiHandle {
    pub(crate) fn new(id: u64) -> Self {
        if id != 0 {
            LIVE.fetch_add(1, Ordering::SeqCst);
        }
        Self(id)
    }

    pub(crate) fn id(&self) -> u64 {
        self.0
    }
}

impl Drop for FfiHandle {
    fn drop(&mut self) {
        if self.0 == 0 {
            return;
        }
        if !on_sdk_thread() {
            release(self.0);
        } else if releaser().send(Release::Handle(self.0)).is_ok() {
            HANDED_OFF.fetch_add(1, Ordering::SeqCst);
        } else {
            // No releasing thread: a handle left open is a leak, one released here can abort
            // the process.
            tracing::warn!(
                handle = self.0,
                "native handle left open: no thread to release it on"
            );
        }
    }
}

pub(crate) fn live_count() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// Where this process's native handles were released, counted since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeReleases {
    /// Dropped inside the SDK's callback and handed to our releasing thread.
    pub handed_off: usize,
    /// Released on a thread while it ran the SDK's callback: should stay 0.
    pub on_sdk_thread: usize,
}

pub(crate) fn releases() -> NativeReleases {
    NativeReleases {
        handed_off: HANDED_OFF.load(Ordering::SeqCst),
        on_sdk_thread: RELEASED_ON_SDK_THREAD.load(Ordering::SeqCst),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    static RELEASED_ON: Mutex<Vec<(u64, Option<String>)>> = Mutex::new(Vec::new());

    pub(super) fn released_on(id: u64) {
        let thread = std::thread::current().name().map(str::to_owned);
        RELEASED_ON.lock().unwrap().push((id, thread));
    }

    fn thread_that_released(id: u64) -> Option<Option<String>> {
        RELEASED_ON
            .lock()
            .unwrap()
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, t)| t.clone())
    }

    // One test: the count is process-wide.
    #[tokio::test]
    async fn a_handle_dropped_in_the_sdk_callback_is_released_on_our_thread_and_elsewhere_at_once()
    {
        let before = live_count();
        let handle = FfiHandle::new(9);
        assert_eq!(live_count(), before + 1);
        drop(handle);
        assert_eq!(live_count(), before, "released at once");

        assert_ne!(thread_that_released(9), None);
        assert_ne!(
            thread_that_released(9),
            Some(Some("onair-livekit-release".into()))
        );

        std::thread::Builder::new()
            .name("sdk-callback".into())
            .spawn(|| {
                let _scope = SdkCallbackScope::enter();
                drop(FfiHandle::new(7));
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(released_handed_off(Duration::from_secs(5)).await);
        assert_eq!(live_count(), before, "released once handed off");
        assert!(releases().handed_off >= 1);
        assert_eq!(releases().on_sdk_thread, 0);
        assert_eq!(
            thread_that_released(7),
            Some(Some("onair-livekit-release".into()))
        );
        assert!(!on_sdk_thread());
    }
}
