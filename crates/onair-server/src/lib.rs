//! The OnAir backend as a library: [`app`] builds the router over an [`AppState`], [`serve`]
//! runs it with its background work (reconciliation against LiveKit, limiter upkeep); the
//! `onair-server` binary parses [`Config`] and calls [`serve`].

pub mod admission;
pub mod api;
pub mod chat;
pub mod chat_api;
pub mod db;
pub mod error;
pub mod events;
pub mod extract;
pub mod keys;
pub mod live;
pub mod moderation;
pub mod openapi;
pub mod page;
pub mod payments;
pub mod ppv;
pub mod ratelimit;
pub mod replay;
pub mod replay_api;
pub mod schedule;
pub mod schedule_api;
pub mod tickets;
pub mod webhook;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::Key;
use livekit_api::access_token::TokenVerifier;
use livekit_api::services::room::RoomClient;
use livekit_api::webhooks::WebhookReceiver;
use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use api::PUBLISHER_TOKEN_TTL;
pub use error::ApiError;
use live::Hub;
use ratelimit::IpLimiter;

/// Server settings, from flags or the environment.
#[derive(Clone, clap::Args)]
pub struct Config {
    /// SQLite database (created if missing).
    #[arg(long, env = "ONAIR_DATABASE_URL", default_value = "sqlite://onair.db")]
    pub database_url: String,
    /// The LiveKit URL clients connect to.
    #[arg(long, env = "LIVEKIT_URL", default_value = "ws://127.0.0.1:7880")]
    pub livekit_url: String,
    /// LiveKit's server API (RoomService); by default the client URL over http(s).
    #[arg(long, env = "LIVEKIT_API_URL")]
    pub livekit_api_url: Option<String>,
    /// Needed to serve (not to manage streamers).
    #[arg(long, env = "LIVEKIT_API_KEY", default_value = "")]
    pub livekit_api_key: String,
    /// Never leaves the backend. Needed to serve.
    #[arg(
        long,
        env = "LIVEKIT_API_SECRET",
        hide_env_values = true,
        default_value = ""
    )]
    pub livekit_api_secret: String,
    /// Secret for hashing streamer API keys; changing it invalidates every key.
    #[arg(long, env = "ONAIR_KEY_SECRET", hide_env_values = true)]
    pub key_secret: String,
    /// Token requests allowed per client IP per minute, on each token endpoint.
    #[arg(long, env = "ONAIR_RATE_LIMIT", default_value = "10")]
    pub rate_limit_per_minute: NonZeroU32,
    /// Chat messages allowed per client IP per minute (many viewers may share an address; each
    /// browser has its own, lower, limit as well).
    #[arg(long, env = "ONAIR_CHAT_RATE_LIMIT", default_value = "120")]
    pub chat_rate_limit_per_minute: NonZeroU32,
    /// Proxies whose `X-Forwarded-For` is believed (comma-separated IPs).
    #[arg(long, env = "ONAIR_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
    /// Seconds between checks of the viewer counts against LiveKit.
    #[arg(long, env = "ONAIR_RECONCILE_SECS", default_value = "5")]
    pub reconcile_secs: f64,
    /// Seconds between heartbeats on idle event streams.
    #[arg(long, env = "ONAIR_SSE_KEEPALIVE_SECS", default_value = "15")]
    pub sse_keepalive_secs: f64,
    /// The built viewer page (`npm --prefix ui run build` writes it), served at
    /// `/live/{username}`.
    #[arg(long, env = "ONAIR_WEB_DIR", default_value = "ui/dist-viewer")]
    pub web_dir: std::path::PathBuf,
    /// Where replays are kept (created if missing).
    #[arg(long, env = "ONAIR_REPLAY_DIR", default_value = "replays")]
    pub replay_dir: std::path::PathBuf,
    /// The largest replay upload taken, in MB (a 4 Mbit/s recording is about 30 MB a minute).
    #[arg(long, env = "ONAIR_REPLAY_MAX_MB", default_value = "4096")]
    pub replay_max_mb: u64,
    /// Who takes pay-per-view payments: `stripe`, or `development` (every purchase is
    /// confirmed at once and no money moves; for local runs only).
    #[arg(
        long,
        env = "ONAIR_PAYMENTS",
        value_enum,
        default_value = "development"
    )]
    pub payments: Payments,
    /// Stripe's secret API key (`sk_…`), with `--payments stripe`.
    #[arg(
        long,
        env = "STRIPE_SECRET_KEY",
        hide_env_values = true,
        default_value = ""
    )]
    pub stripe_secret_key: String,
    /// The signing secret of the Stripe webhook endpoint (`whsec_…`) that posts to
    /// `/api/payments/stripe/webhook`.
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        default_value = ""
    )]
    pub stripe_webhook_secret: String,
    /// Stripe's API (stripe-mock in tests).
    #[arg(
        long,
        env = "STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,
    /// The address viewers reach this server at, for checkout's way back to the viewer
    /// page; by default the request's own `Host`.
    #[arg(long, env = "ONAIR_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Currency of pay-per-view prices (ISO code, lower case).
    #[arg(long, env = "ONAIR_CURRENCY", default_value = "usd")]
    pub currency: String,
    /// Seconds a viewer token holds its ticket for a join before the ticket is free again.
    #[arg(long, env = "ONAIR_TICKET_RESERVATION_SECS", default_value = "60")]
    pub ticket_reservation_secs: f64,
    /// Seconds after its start a scheduled stream nobody started becomes missed (by default
    /// the end of its Go Live window, 2 hours).
    #[arg(long, env = "ONAIR_SCHEDULE_GRACE_SECS", default_value = "7200")]
    pub schedule_grace_secs: f64,
}

/// Pay-per-view payment providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Payments {
    Development,
    Stripe,
}

// Secrets stay out of logs and panics.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url)
            .field("livekit_url", &self.livekit_url)
            .field("livekit_api_key", &self.livekit_api_key)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("web_dir", &self.web_dir)
            .field("replay_dir", &self.replay_dir)
            .field("payments", &self.payments)
            .field("stripe_api_base", &self.stripe_api_base)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for everything but the LiveKit credentials, the key secret and the database.
    pub fn new(
        database_url: &str,
        livekit_url: &str,
        api_key: &str,
        api_secret: &str,
        key_secret: &str,
    ) -> Self {
        Self {
            database_url: database_url.into(),
            livekit_url: livekit_url.into(),
            livekit_api_url: None,
            livekit_api_key: api_key.into(),
            livekit_api_secret: api_secret.into(),
            key_secret: key_secret.into(),
            rate_limit_per_minute: NonZeroU32::new(10).expect("non-zero"),
            chat_rate_limit_per_minute: NonZeroU32::new(120).expect("non-zero"),
            trusted_proxies: Vec::new(),
            reconcile_secs: 5.0,
            sse_keepalive_secs: 15.0,
            web_dir: "ui/dist-viewer".into(),
            replay_dir: "replays".into(),
            replay_max_mb: 4096,
            payments: Payments::Development,
            stripe_secret_key: String::new(),
            stripe_webhook_secret: String::new(),
            stripe_api_base: "https://api.stripe.com".into(),
            public_url: None,
            currency: "usd".into(),
            ticket_reservation_secs: 60.0,
            schedule_grace_secs: 7200.0,
        }
    }

    /// How long a viewer token holds its ticket, in milliseconds.
    pub fn ticket_reservation_ms(&self) -> i64 {
        (self.ticket_reservation_secs.clamp(1.0, 3600.0) * 1000.0) as i64
    }

    /// The configured payment provider.
    pub fn payment_provider(&self) -> Arc<dyn payments::PaymentProvider> {
        match self.payments {
            Payments::Development => Arc::new(payments::Development),
            Payments::Stripe => Arc::new(payments::Stripe::new(
                &self.stripe_api_base,
                &self.stripe_secret_key,
                &self.stripe_webhook_secret,
            )),
        }
    }

    pub fn livekit_api_url(&self) -> String {
        self.livekit_api_url.clone().unwrap_or_else(|| {
            self.livekit_url
                .replacen("ws://", "http://", 1)
                .replacen("wss://", "https://", 1)
        })
    }

    /// How long after its start a scheduled stream nobody started is missed, in milliseconds.
    pub fn schedule_grace_ms(&self) -> i64 {
        (self.schedule_grace_secs.clamp(0.0, 30.0 * 86_400.0) * 1000.0) as i64
    }

    pub fn reconcile_interval(&self) -> Duration {
        Duration::from_secs_f64(self.reconcile_secs.clamp(0.1, 3600.0))
    }

    pub fn sse_keepalive(&self) -> Duration {
        Duration::from_secs_f64(self.sse_keepalive_secs.clamp(0.1, 3600.0))
    }
}

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: SqlitePool,
    pub hub: Arc<Hub>,
    pub publisher_limiter: Arc<IpLimiter>,
    pub viewer_limiter: Arc<IpLimiter>,
    pub chat_limiter: Arc<IpLimiter>,
    pub chat: Arc<chat::ChatHub>,
    /// Signs the viewers' device cookies.
    pub cookie_key: Key,
    pub webhooks: Arc<WebhookReceiver>,
    pub payments: Arc<dyn payments::PaymentProvider>,
    /// Streamers by API-key hash, so a token request costs one database write and no read.
    /// Entries expire, so a key removed from the database stops working within a minute.
    pub streamers: moka::sync::Cache<String, db::Streamer>,
    /// Cancelled to stop: ends event streams and background work.
    pub shutdown: CancellationToken,
    /// Held while a replay's row is replaced (see `replay::upload`).
    pub replay_save: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    pub fn new(config: Config, db: SqlitePool) -> Self {
        let livekit = RoomClient::with_api_key(
            &config.livekit_api_url(),
            &config.livekit_api_key,
            &config.livekit_api_secret,
        )
        .with_request_timeout(Duration::from_secs(5));
        let limiter =
            |per_minute| Arc::new(IpLimiter::new(per_minute, config.trusted_proxies.clone()));
        Self {
            hub: Arc::new(Hub::new(db.clone(), livekit)),
            publisher_limiter: limiter(config.rate_limit_per_minute),
            viewer_limiter: limiter(config.rate_limit_per_minute),
            chat_limiter: limiter(config.chat_rate_limit_per_minute),
            chat: Arc::new(chat::ChatHub::default()),
            cookie_key: cookie_key(&config.key_secret),
            webhooks: Arc::new(WebhookReceiver::new(TokenVerifier::with_api_key(
                &config.livekit_api_key,
                &config.livekit_api_secret,
            ))),
            payments: config.payment_provider(),
            streamers: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            config: Arc::new(config),
            db,
            shutdown: CancellationToken::new(),
            replay_save: Arc::default(),
        }
    }
}

/// The device cookies' signing key, derived from the server's secret so that every instance
/// given the same secret accepts the same cookies.
fn cookie_key(secret: &str) -> Key {
    use sha2::{Digest, Sha512};
    let mut hash = Sha512::new();
    hash.update(b"onair device cookie\0");
    hash.update(secret.as_bytes());
    Key::from(hash.finalize().as_slice())
}

impl axum::extract::FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Self {
        state.cookie_key.clone()
    }
}

/// The HTTP API.
pub fn app(state: AppState) -> Router {
    let publisher_token = Router::new()
        .route("/api/streams/token", post(api::publisher_token))
        .route_layer(axum::middleware::from_fn_with_state(
            state.publisher_limiter.clone(),
            ratelimit::limit,
        ));
    // Buying a ticket starts a checkout at the provider: limited like a viewer token.
    let viewer_token = Router::new()
        .route(
            "/api/streams/{username}/viewer-token",
            post(api::viewer_token),
        )
        .route("/api/streams/{username}/tickets", post(ppv::buy_ticket))
        .route_layer(axum::middleware::from_fn_with_state(
            state.viewer_limiter.clone(),
            ratelimit::limit,
        ));
    // Only sending is limited per address: reading the chat is not.
    let chat = post(chat_api::post_message)
        .route_layer(axum::middleware::from_fn_with_state(
            state.chat_limiter.clone(),
            ratelimit::limit,
        ))
        .get(chat_api::history);
    Router::new()
        .merge(publisher_token)
        .merge(viewer_token)
        .route("/api/streams/{username}/chat", chat)
        .route("/api/streams/{username}/chat/events", get(chat_api::events))
        .route("/api/chat/messages/{id}/hide", post(chat_api::hide))
        .route("/api/chat/timeouts", post(chat_api::time_out))
        .route("/api/chat/bans", post(chat_api::ban).get(chat_api::bans))
        .route("/api/chat/bans/{id}", axum::routing::delete(chat_api::unban))
        .route(
            "/api/chat/settings",
            get(chat_api::settings).put(chat_api::set_settings),
        )
        .route("/api/chat/log", get(chat_api::log))
        .route(
            "/api/schedule",
            post(schedule_api::create).get(schedule_api::list),
        )
        .route("/api/schedule/upcoming", get(schedule_api::upcoming))
        .route(
            "/api/schedule/{id}",
            get(schedule_api::one)
                .put(schedule_api::edit)
                .delete(schedule_api::cancel),
        )
        .route(
            "/api/streams/{username}/schedule",
            get(schedule_api::upcoming_of),
        )
        .route("/live/{username}/schedule.ics", get(schedule_api::feed))
        .route(
            "/live/{username}/schedule/{file}",
            get(schedule_api::event_file),
        )
        .route("/api/me", get(api::me))
        .route("/api/streams/{username}", get(api::stream_status))
        .route("/api/streams/end", post(api::end_stream))
        .route("/api/streams/{username}/viewers", get(api::viewers))
        .route("/api/streams/{username}/viewers/events", get(api::viewer_events))
        .route("/api/streams/{username}/history", get(api::history))
        .route("/api/streams/{username}/replays", get(replay_api::list))
        .route(
            "/api/replays/{id}",
            get(replay_api::one)
                .put(replay_api::upload)
                .delete(replay_api::delete),
        )
        .route("/api/replays/{id}/video", get(replay_api::video))
        .route("/api/livekit/webhook", post(api::livekit_webhook))
        .route("/api/tickets/{id}", get(ppv::ticket))
        .route("/api/tickets/{id}/refund", post(ppv::refund))
        .route("/api/streams/{username}/earnings", get(ppv::earnings))
        .route("/api/payments/stripe/webhook", post(ppv::stripe_webhook))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/health", get(api::health))
        .route("/live/{username}", get(page::viewer_page))
        .route("/live/{username}/replays/{id}", get(page::replay_page))
        .nest(
            "/live/assets",
            page::assets(&state.config.web_dir.join("assets")),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The LiveKit room of a streamer (the viewer page is `/live/{username}`).
pub fn room_name(username: &str) -> String {
    username.to_owned()
}

/// The fixed identity a streamer publishes as; viewer counting relies on it.
pub fn publisher_identity(username: &str) -> String {
    format!("creator-{username}")
}

/// Serves the API on `listener` until `state.shutdown` is cancelled: restores what was on
/// air, reconciles with LiveKit at once and then every interval, and keeps the rate
/// limiters' memory bounded.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    let restored = state.hub.restore().await?;
    if restored > 0 {
        tracing::info!(streams = restored, "restored streams that were on air");
    }
    if let Err(err) = replay::sweep(&state).await {
        tracing::warn!(%err, "the replay folder could not be swept");
    }
    let background = tokio_util::task::TaskTracker::new();
    background.spawn(reconcile_loop(state.clone()));
    background.spawn(limiter_upkeep(state.clone()));
    background.close();
    let shutdown = state.shutdown.clone();
    let result = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .await;
    shutdown.cancel();
    background.wait().await;
    Ok(result?)
}

async fn reconcile_loop(state: AppState) {
    let mut every = tokio::time::interval(state.config.reconcile_interval());
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let pass = state.hub.reconcile_all();
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            result = pass => if let Err(err) = result {
                tracing::warn!(error = %err, "reconciliation with LiveKit failed; counts may be stale until the next pass");
            }
        }
        if let Err(err) = schedule::mark_missed(&state, state.config.schedule_grace_ms()).await {
            tracing::warn!(error = %err, "could not mark missed scheduled streams; trying again next pass");
        }
    }
}

async fn limiter_upkeep(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let remembered = state.publisher_limiter.evict_idle()
            + state.viewer_limiter.evict_idle()
            + state.chat_limiter.evict_idle();
        let chats = state.chat.evict_idle();
        tracing::debug!(remembered, chats, "rate limiter upkeep");
        let before = live::now_ms() - chat::ADDRESS_MEMORY_MS;
        if let Err(err) = chat::store::forget_addresses(&state.db, before).await {
            tracing::warn!(error = %err, "could not forget old address hashes; trying again in a minute");
        }
    }
}
