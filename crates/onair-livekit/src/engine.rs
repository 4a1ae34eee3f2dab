//! The process-wide engine: loads the SDK library once, matches async results to their
//! requests by id, routes room and stream events to their owners, forwards SDK logs to
//! `tracing`, and poisons itself when the native side panics.

use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use parking_lot::Mutex;
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};

use crate::error::{EngineError, LoadError};
use crate::library::LoadOptions;
use crate::proto::{self, ffi_event, ffi_request, ffi_response};
use crate::sys;

type Keepalive = Box<dyn Any + Send>;

struct Pending {
    reply: Option<oneshot::Sender<ffi_event::Message>>,
    /// Memory the SDK reads asynchronously (audio frames): freed only when its callback arrives,
    /// even if the caller stopped waiting.
    keepalive: Option<Keepalive>,
}

#[derive(Default)]
struct Routes {
    pending: HashMap<u64, Pending>,
    /// Results that arrived before their waiter registered (only if the SDK ignored our id).
    early: HashMap<u64, ffi_event::Message>,
    rooms: HashMap<u64, mpsc::UnboundedSender<RoomSignal>>,
    video_streams: HashMap<u64, mpsc::Sender<crate::stream::RawVideoFrame>>,
    audio_streams: HashMap<u64, mpsc::Sender<crate::stream::RawAudioFrame>>,
}

/// What a room's event task receives.
pub(crate) enum RoomSignal {
    Event(Box<proto::room_event::Message>),
    /// The native side panicked: the room is gone.
    EnginePanic(String),
}

pub(crate) struct Engine {
    lib: sys::Library,
    routes: Mutex<Routes>,
    next_id: AtomicU64,
    poisoned: Mutex<Option<String>>,
    disposed: AtomicBool,
    load_time: std::time::Duration,
}

static ENGINE: OnceLock<Engine> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

/// Loads and initialises the SDK library once per process; later calls return at once.
pub fn load(options: &LoadOptions) -> Result<EngineInfo, LoadError> {
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.info());
    }
    let _guard = LOADING.lock();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.info());
    }
    let started = Instant::now();
    let mut tried = Vec::new();
    for place in options.candidates() {
        if !place.exists() {
            tried.push((place, "not found".to_owned()));
            continue;
        }
        match sys::Library::open(&place) {
            Ok(lib) => {
                let engine = Engine {
                    lib,
                    routes: Mutex::new(Routes::default()),
                    next_id: AtomicU64::new(1),
                    poisoned: Mutex::new(None),
                    disposed: AtomicBool::new(false),
                    load_time: started.elapsed(),
                };
                let engine = ENGINE.get_or_init(|| engine);
                // The thread that releases handles dropped inside the SDK's callback starts
                // with the engine (like the SDK's own threads), not on its first drop some
                // session later.
                crate::handle::start_releasing();
                engine
                    .lib
                    .initialize(options.capture_logs, env!("CARGO_PKG_VERSION"));
                tracing::debug!(path = %place.display(), "LiveKit SDK library loaded");
                return Ok(engine.info());
            }
            Err(err) => tried.push((place, err)),
        }
    }
    Err(LoadError { tried })
}

/// What was loaded.
#[derive(Debug, Clone)]
pub struct EngineInfo {
    pub path: PathBuf,
    pub load_time: std::time::Duration,
}

/// The number of native handles currently owned by Rust values (rooms, participants, tracks,
/// sources, publications, streams, frame buffers). 0 when everything has been released.
pub fn live_handle_count() -> usize {
    crate::handle::live_count()
}

/// How many native handles were dropped inside the SDK's callback (and so released on our
/// own thread), and how many were released on the SDK's thread (0 unless that rule broke).
pub fn native_releases() -> crate::handle::NativeReleases {
    crate::handle::releases()
}

/// Why the engine refuses calls, if the native side panicked.
pub fn poisoned_reason() -> Option<String> {
    ENGINE.get().and_then(|e| e.poisoned.lock().clone())
}

/// Tears the SDK's runtime down. Call once at process exit, after every room is closed: the
/// runtime cannot be started again in this process.
pub fn dispose() {
    if let Some(engine) = ENGINE.get() {
        if !engine.disposed.swap(true, Ordering::SeqCst) {
            engine.lib.dispose();
        }
    }
}

pub(crate) fn get() -> Result<&'static Engine, EngineError> {
    let engine = ENGINE.get().ok_or(EngineError::NotLoaded)?;
    if let Some(reason) = engine.poisoned.lock().clone() {
        return Err(EngineError::Poisoned(reason));
    }
    if engine.disposed.load(Ordering::SeqCst) {
        return Err(EngineError::Disposed);
    }
    Ok(engine)
}

/// Drops a native handle; used by [`FfiHandle`]'s `Drop`.
pub(crate) fn drop_native_handle(id: u64) {
    if let Some(engine) = ENGINE.get() {
        if !engine.disposed.load(Ordering::SeqCst) {
            engine.lib.drop_handle(id);
        }
    }
}

impl Engine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            path: self.lib.path().to_owned(),
            load_time: self.load_time,
        }
    }

    pub(crate) fn next_async_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A synchronous request.
    pub(crate) fn request(
        &self,
        message: ffi_request::Message,
    ) -> Result<ffi_response::Message, EngineError> {
        let bytes = proto::FfiRequest {
            message: Some(message),
        }
        .encode_to_vec();
        let response = self.lib.request(&bytes);
        let response = proto::FfiResponse::decode(response.as_slice())
            .map_err(|e| EngineError::Protocol(format!("undecodable response: {e}")))?;
        response
            .message
            .ok_or_else(|| EngineError::Protocol("empty response".into()))
    }

    /// An asynchronous request nobody waits for (a drop path): its callback is consumed when
    /// it arrives instead of lingering among unclaimed events, and `keepalive` (handles the
    /// request needs alive) is freed only then.
    pub(crate) fn request_detached(
        &self,
        async_id: u64,
        message: ffi_request::Message,
        keepalive: Keepalive,
        response_async_id: impl FnOnce(&ffi_response::Message) -> Option<u64>,
    ) -> Result<(), EngineError> {
        self.routes.lock().pending.insert(
            async_id,
            Pending {
                reply: None,
                keepalive: Some(keepalive),
            },
        );
        let response = match self.request(message) {
            Ok(response) => response,
            Err(err) => {
                self.routes.lock().pending.remove(&async_id);
                return Err(err);
            }
        };
        if let Some(other) = response_async_id(&response).filter(|id| *id != async_id) {
            // The SDK chose its own id: consume the callback under that one.
            let mut routes = self.routes.lock();
            let entry = routes.pending.remove(&async_id).expect("registered above");
            if routes.early.remove(&other).is_none() {
                routes.pending.insert(other, entry);
            }
        }
        Ok(())
    }

    /// An asynchronous request: registers a waiter under `async_id` *before* sending (the
    /// callback may arrive before `livekit_ffi_request` returns), then waits for the callback.
    /// `keepalive` is freed only once the callback has arrived.
    pub(crate) async fn request_async(
        &'static self,
        async_id: u64,
        message: ffi_request::Message,
        keepalive: Option<Keepalive>,
        response_async_id: impl FnOnce(&ffi_response::Message) -> Option<u64>,
    ) -> Result<ffi_event::Message, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.routes.lock().pending.insert(
            async_id,
            Pending {
                reply: Some(tx),
                keepalive,
            },
        );
        let mut waiter = Waiter {
            engine: self,
            id: async_id,
        };
        let response = self.request(message)?;
        match response_async_id(&response) {
            Some(id) if id == async_id => {}
            Some(other) => {
                // The SDK chose its own id: move our registration there.
                let mut routes = self.routes.lock();
                let mut entry = routes.pending.remove(&async_id).expect("registered above");
                if let Some(early) = routes.early.remove(&other) {
                    drop(routes);
                    waiter.id = other;
                    drop(entry.keepalive.take());
                    return Ok(early);
                }
                routes.pending.insert(other, entry);
                waiter.id = other;
            }
            None => {
                return Err(EngineError::Protocol(format!(
                    "unexpected response to an async request: {response:?}"
                )))
            }
        }
        let result = rx.await.map_err(|_| self.closed_reason());
        drop(waiter);
        result
    }

    fn closed_reason(&self) -> EngineError {
        match self.poisoned.lock().clone() {
            Some(reason) => EngineError::Poisoned(reason),
            None => EngineError::Protocol("the SDK dropped a pending request".into()),
        }
    }

    pub(crate) fn register_room(&self, room_handle: u64, tx: mpsc::UnboundedSender<RoomSignal>) {
        self.routes.lock().rooms.insert(room_handle, tx);
    }

    pub(crate) fn unregister_room(&self, room_handle: u64) {
        self.routes.lock().rooms.remove(&room_handle);
    }

    pub(crate) fn register_video_stream(
        &self,
        handle: u64,
        tx: mpsc::Sender<crate::stream::RawVideoFrame>,
    ) {
        self.routes.lock().video_streams.insert(handle, tx);
    }

    pub(crate) fn register_audio_stream(
        &self,
        handle: u64,
        tx: mpsc::Sender<crate::stream::RawAudioFrame>,
    ) {
        self.routes.lock().audio_streams.insert(handle, tx);
    }

    pub(crate) fn unregister_stream(&self, handle: u64) {
        let mut routes = self.routes.lock();
        routes.video_streams.remove(&handle);
        routes.audio_streams.remove(&handle);
    }

    fn poison(&self, message: String) {
        tracing::error!(%message, "the LiveKit SDK panicked; the engine refuses further calls");
        *self.poisoned.lock() = Some(message.clone());
        let mut routes = self.routes.lock();
        for (_, room) in routes.rooms.drain() {
            let _ = room.send(RoomSignal::EnginePanic(message.clone()));
        }
        // Dropping the reply senders wakes every waiter with the poisoned error. Keepalive
        // buffers stay: the native side may still be reading them.
        for pending in routes.pending.values_mut() {
            pending.reply = None;
        }
        routes.video_streams.clear();
        routes.audio_streams.clear();
    }

    fn complete(&self, async_id: u64, event: ffi_event::Message) {
        let mut routes = self.routes.lock();
        match routes.pending.remove(&async_id) {
            Some(pending) => {
                drop(routes);
                if let Some(reply) = pending.reply {
                    let _ = reply.send(event);
                }
                drop(pending.keepalive);
            }
            None => {
                // Bounded: only results whose waiter has not registered yet land here.
                if routes.early.len() < 256 {
                    routes.early.insert(async_id, event);
                }
            }
        }
    }
}

/// Removes a waiter's registration when the waiting future is dropped, unless the SDK may
/// still read memory it keeps alive.
struct Waiter {
    engine: &'static Engine,
    id: u64,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut routes = self.engine.routes.lock();
        if let Some(pending) = routes.pending.get_mut(&self.id) {
            if pending.keepalive.is_some() {
                pending.reply = None;
            } else {
                routes.pending.remove(&self.id);
            }
        }
    }
}

/// Called from the native callback: decode and hand off, nothing else. Native handles
/// dropped in here (a frame a full queue refuses, an event for a room nobody listens to, a
/// completed request's keepalive) are released on a thread of ours (see `handle`).
pub(crate) fn dispatch(bytes: &[u8]) {
    let _sdk_thread = crate::handle::SdkCallbackScope::enter();
    let Some(engine) = ENGINE.get() else { return };
    let event = match proto::FfiEvent::decode(bytes) {
        Ok(proto::FfiEvent {
            message: Some(event),
        }) => event,
        Ok(_) => return,
        Err(err) => {
            tracing::warn!(%err, "undecodable event from the LiveKit SDK");
            return;
        }
    };
    use ffi_event::Message as M;
    if tracing::enabled!(tracing::Level::TRACE) && !matches!(event, M::Logs(_)) {
        tracing::trace!(event = ?std::mem::discriminant(&event), "SDK event: {}", format!("{event:?}").chars().take(200).collect::<String>());
    }
    match event {
        M::Logs(batch) => forward_logs(batch),
        M::Panic(panic) => engine.poison(panic.message),
        M::RoomEvent(event) => {
            let Some(message) = event.message else { return };
            let routes = engine.routes.lock();
            if let Some(room) = routes.rooms.get(&event.room_handle) {
                let _ = room.send(RoomSignal::Event(Box::new(message)));
            } else {
                drop(routes);
                crate::events::release_unrouted(message);
            }
        }
        M::VideoStreamEvent(event) => {
            use proto::video_stream_event::Message as V;
            match event.message {
                Some(V::FrameReceived(frame)) => {
                    let raw = crate::stream::RawVideoFrame::from_proto(frame);
                    let routes = engine.routes.lock();
                    if let Some(tx) = routes.video_streams.get(&event.stream_handle) {
                        // A full queue drops this frame (and its native buffer): a slow
                        // consumer must never block the SDK's thread.
                        let _ = tx.try_send(raw);
                    }
                }
                Some(V::Eos(_)) => engine.unregister_stream(event.stream_handle),
                None => {}
            }
        }
        M::AudioStreamEvent(event) => {
            use proto::audio_stream_event::Message as A;
            match event.message {
                Some(A::FrameReceived(frame)) => {
                    let raw = crate::stream::RawAudioFrame::from_proto(frame);
                    let routes = engine.routes.lock();
                    if let Some(tx) = routes.audio_streams.get(&event.stream_handle) {
                        let _ = tx.try_send(raw);
                    }
                }
                Some(A::Eos(_)) => engine.unregister_stream(event.stream_handle),
                None => {}
            }
        }
        other => {
            if let Some(id) = async_id_of(&other) {
                engine.complete(id, other);
            }
        }
    }
}

fn async_id_of(event: &ffi_event::Message) -> Option<u64> {
    use ffi_event::Message as M;
    Some(match event {
        M::Connect(e) => e.async_id,
        M::Disconnect(e) => e.async_id,
        M::Dispose(e) => e.async_id,
        M::PublishTrack(e) => e.async_id,
        M::UnpublishTrack(e) => e.async_id,
        M::CaptureAudioFrame(e) => e.async_id,
        M::GetStats(e) => e.async_id,
        M::GetSessionStats(e) => e.async_id,
        M::SimulateScenario(e) => e.async_id,
        M::PublishData(e) => e.async_id,
        M::SetLocalMetadata(e) => e.async_id,
        M::SetLocalName(e) => e.async_id,
        M::SetLocalAttributes(e) => e.async_id,
        _ => return None,
    })
}

fn forward_logs(batch: proto::LogBatch) {
    use proto::LogLevel;
    for record in batch.records {
        let target = record.target.as_str();
        let line = record.line.unwrap_or(0);
        let message = record.message.as_str();
        match LogLevel::try_from(record.level).unwrap_or(LogLevel::LogInfo) {
            LogLevel::LogError => {
                tracing::error!(target: "livekit_sdk", sdk_target = target, line, "{message}")
            }
            LogLevel::LogWarn => {
                tracing::warn!(target: "livekit_sdk", sdk_target = target, line, "{message}")
            }
            LogLevel::LogInfo => {
                tracing::info!(target: "livekit_sdk", sdk_target = target, line, "{message}")
            }
            LogLevel::LogDebug => {
                tracing::debug!(target: "livekit_sdk", sdk_target = target, line, "{message}")
            }
            LogLevel::LogTrace => {
                tracing::trace!(target: "livekit_sdk", sdk_target = target, line, "{message}")
            }
        }
    }
}
