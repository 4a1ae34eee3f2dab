//! The one ordered teardown of a live session: End runs it and waits for its report; a
//! session dropped without End runs it in a task of its own. Each step is bounded in time,
//! and every step runs even when one before it failed.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::link::Link;
use crate::media::Sources;
use crate::record::{RecordingEnd, FINISH_LIMIT};
use onair_client::backend::BackendClient;
use onair_client::viewers::ViewerCountSubscription;

/// How long stopping the devices and the room supervisor may take.
pub(crate) const STOP_CAPTURE: Duration = Duration::from_secs(2);
/// How long the backend has to close the stream.
pub(crate) const TELL_BACKEND: Duration = Duration::from_secs(5);

/// One teardown step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeardownStep {
    pub step: &'static str,
    pub duration: Duration,
    /// `Ok` with what was done, or `Err` with what went wrong.
    pub result: Result<String, String>,
}

/// What End did.
#[derive(Debug, Clone, PartialEq)]
pub struct TeardownReport {
    pub steps: Vec<TeardownStep>,
    pub total: Duration,
    /// The SDK confirmed the server let the participant go.
    pub participant_gone: bool,
    /// This call found the session already ended (the report is the first call's).
    pub already_ended: bool,
    /// Why it ended.
    pub reason: String,
    /// The recording's end, when one was asked for.
    pub recording: Option<RecordingEnd>,
}

impl TeardownReport {
    pub fn all_ok(&self) -> bool {
        self.steps.iter().all(|s| s.result.is_ok())
    }
}

/// What runs while live.
pub(crate) struct Running {
    pub(crate) sources: Sources,
    pub(crate) link: Option<Link>,
    /// The room watcher and the rejoin loop.
    pub(crate) supervisor: TaskTracker,
    pub(crate) supervisor_cancel: CancellationToken,
    pub(crate) viewers: Option<ViewerCountSubscription>,
}

/// The teardown of a session dropped without End, in a task of its own (nobody waits for its
/// report; the log has it). Rejoining stops at once, before the task runs.
pub(crate) fn run_detached(running: Running, backend: Option<BackendClient>) {
    running.supervisor_cancel.cancel();
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(async move {
                let (steps, _, _) = run(Some(running), backend).await;
                let failed: Vec<_> = steps.iter().filter(|s| s.result.is_err()).collect();
                if failed.is_empty() {
                    tracing::info!("session dropped without End: torn down");
                } else {
                    tracing::warn!(
                        ?failed,
                        "session dropped without End: teardown steps failed"
                    );
                }
            });
        }
        // No runtime to run it on: the devices close on their threads and the room leaves
        // the server as they drop.
        Err(_) => drop(running),
    }
}

/// Tears down what runs (if anything) and, given the backend, closes the stream there.
/// Returns the steps, whether nobody is left on the server for us, and how the recording
/// ended.
pub(crate) async fn run(
    running: Option<Running>,
    backend: Option<BackendClient>,
) -> (Vec<TeardownStep>, bool, Option<RecordingEnd>) {
    let mut steps = Vec::new();
    let mut recording = None;
    let mut participant_gone = false;
    let mut viewer_count = None;
    // Nothing running: going live stopped before joining, nobody is on the server.
    participant_gone |= running.is_none();
    if let Some(running) = running {
        // 1. Stop capture: no more rejoins, the devices close, no more frames reach the
        //    encoder.
        let t = Instant::now();
        running.supervisor_cancel.cancel();
        running.supervisor.close();
        let supervisor = tokio::time::timeout(STOP_CAPTURE, running.supervisor.wait()).await;
        let sources = running.sources.stop(STOP_CAPTURE).await;
        steps.push(TeardownStep {
            step: "stop capture",
            duration: t.elapsed(),
            result: match (sources, supervisor) {
                (Ok(done), Ok(())) => Ok(done),
                (Err(e), _) => Err(e),
                (Ok(_), Err(_)) => Err(format!(
                    "the room supervisor still running after {STOP_CAPTURE:?}"
                )),
            },
        });
        // 2. Finish the recording: no frame comes any more, so the file's end is the stream's.
        let t = Instant::now();
        if let Some(end) = running.sources.finish_recording(FINISH_LIMIT).await {
            steps.push(TeardownStep {
                step: "finish recording",
                duration: t.elapsed(),
                result: end.describe(),
            });
            recording = Some(end);
        }
        let Running {
            sources,
            link,
            viewers,
            ..
        } = running;
        // 3–4. Unpublish and disconnect (the room's close does both, bounded).
        match &link {
            Some(link) => {
                let t = Instant::now();
                let closed = link.room.close().await;
                let close_time = t.elapsed();
                match closed {
                    Ok(close) => {
                        steps.push(TeardownStep {
                            step: "unpublish tracks",
                            duration: close_time,
                            result: if close.unpublish_errors.is_empty() {
                                Ok(format!(
                                    "{} track(s) unpublished{}",
                                    close.unpublished.len(),
                                    if close.already_gone.is_empty() {
                                        String::new()
                                    } else {
                                        format!(
                                            ", {} republished by the SDK's reconnect leave with the disconnect",
                                            close.already_gone.len()
                                        )
                                    }
                                ))
                            } else {
                                Err(close.unpublish_errors.join("; "))
                            },
                        });
                        participant_gone = close.disconnect_confirmed;
                        steps.push(TeardownStep {
                            step: "disconnect",
                            duration: close.duration,
                            result: if close.disconnect_confirmed {
                                Ok("the server confirmed the disconnect".into())
                            } else {
                                Err("no confirmation within the deadline".into())
                            },
                        });
                    }
                    Err(err) => steps.push(TeardownStep {
                        step: "disconnect",
                        duration: close_time,
                        result: Err(err.to_string()),
                    }),
                }
            }
            None => {
                // Between rooms (rejoining) or before the first: nobody is on the server.
                participant_gone = true;
                steps.push(TeardownStep {
                    step: "disconnect",
                    duration: Duration::ZERO,
                    result: Ok("not in a room".into()),
                });
            }
        }
        // 5. Native handles: tracks, sources and the room go now.
        let t = Instant::now();
        drop((link, sources));
        steps.push(TeardownStep {
            step: "release native handles",
            duration: t.elapsed(),
            result: Ok(format!(
                "{} native handle(s) still open in this process",
                onair_livekit::live_handle_count()
            )),
        });
        viewer_count = viewers;
    }
    // 6. The backend deletes the room (viewers see the end at once) and closes the
    //    record — whenever a token opened one, even if going live stopped before the
    //    room.
    if let Some(backend) = backend {
        let t = Instant::now();
        let told = tokio::time::timeout(TELL_BACKEND, backend.end_stream()).await;
        steps.push(TeardownStep {
            step: "tell the backend",
            duration: t.elapsed(),
            result: match told {
                Ok(Ok(answer)) => Ok(if answer.room_deleted {
                    "stream closed, room deleted".to_owned()
                } else {
                    "stream closed (the room was already gone)".to_owned()
                }),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err(format!("no answer within {TELL_BACKEND:?}")),
            },
        });
    }
    // 7. The viewer-count subscription.
    if let Some(viewers) = viewer_count {
        let t = Instant::now();
        viewers.close().await;
        steps.push(TeardownStep {
            step: "stop tasks",
            duration: t.elapsed(),
            result: Ok("viewer count closed".into()),
        });
    }
    // 8. Give freed memory back (libwebrtc's threads leave a lot in glibc's arenas).
    let t = Instant::now();
    let released = onair_livekit::release_free_memory();
    steps.push(TeardownStep {
        step: "release memory",
        duration: t.elapsed(),
        result: Ok(if released {
            "trimmed"
        } else {
            "nothing to trim"
        }
        .into()),
    });
    (steps, participant_gone, recording)
}
