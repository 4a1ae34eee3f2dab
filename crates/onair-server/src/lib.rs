//! The OnAir backend as a library: [`app`] builds the router over an [`AppState`]; the
//! `onair-server` binary parses [`Config`] and serves it. Work in progress (issue 4): streamers
//! and the publisher token endpoint are here; viewer tokens, rate limiting, webhooks, viewer
//! counts and stream end follow.

pub mod db;
pub mod error;
pub mod keys;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use livekit_api::access_token::{AccessToken, VideoGrants};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::SqlitePool;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// How long a publisher token stays valid: it is only needed to connect, and LiveKit hands
/// the connected client fresh tokens itself.
pub const PUBLISHER_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Server settings, from flags or the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// SQLite database (created if missing).
    #[arg(long, env = "ONAIR_DATABASE_URL", default_value = "sqlite://onair.db")]
    pub database_url: String,
    /// The LiveKit URL clients connect to.
    #[arg(long, env = "LIVEKIT_URL", default_value = "ws://127.0.0.1:7880")]
    pub livekit_url: String,
    #[arg(long, env = "LIVEKIT_API_KEY")]
    pub livekit_api_key: String,
    /// Never leaves the backend.
    #[arg(long, env = "LIVEKIT_API_SECRET", hide_env_values = true)]
    pub livekit_api_secret: String,
    /// Secret for hashing streamer API keys; changing it invalidates every key.
    #[arg(long, env = "ONAIR_KEY_SECRET", hide_env_values = true)]
    pub key_secret: String,
}

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: SqlitePool,
}

/// The HTTP API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/streams/token", post(publisher_token))
        .layer(TraceLayer::new_for_http())
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

#[derive(Debug, Deserialize)]
struct TokenRequest {
    title: String,
    #[serde(default)]
    ppv_price: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub url: String,
    pub token: String,
    pub room: String,
    pub identity: String,
    /// Unix seconds.
    pub expires_at: u64,
    pub stream_id: i64,
}

async fn publisher_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TokenResponse>, ApiError> {
    let streamer = authenticate(&state, &headers).await?;
    let request: TokenRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadJson(e.to_string()))?;
    let title = onair_core::validate::title(&request.title)?;
    let price = match &request.ppv_price {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(onair_core::validate::price_cents(&n.to_string())?),
        Some(Value::String(s)) => Some(onair_core::validate::price_cents(s)?),
        Some(other) => Some(onair_core::validate::price_cents(&other.to_string())?),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stream_id = db::create_stream(
        &state.db,
        streamer.id,
        &title,
        price,
        now.as_millis() as i64,
    )
    .await?;
    let room = room_name(&streamer.username);
    let identity = publisher_identity(&streamer.username);
    // Least privilege: the creator can publish media to their own room and nothing else.
    let token = AccessToken::with_api_key(
        &state.config.livekit_api_key,
        &state.config.livekit_api_secret,
    )
    .with_identity(&identity)
    .with_name(&streamer.username)
    .with_ttl(PUBLISHER_TOKEN_TTL)
    .with_grants(VideoGrants {
        room_join: true,
        room: room.clone(),
        can_publish: Some(true),
        can_subscribe: Some(false),
        can_publish_data: Some(false),
        ..Default::default()
    })
    .to_jwt()
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(TokenResponse {
        url: state.config.livekit_url.clone(),
        token,
        room,
        identity,
        expires_at: (now + PUBLISHER_TOKEN_TTL).as_secs(),
        stream_id,
    }))
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<db::Streamer, ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let hash = keys::hash(state.config.key_secret.as_bytes(), key);
    db::streamer_by_key_hash(&state.db, &hash)
        .await?
        .ok_or(ApiError::Unauthorized)
}
