//! The HTTP handlers of streams, tokens, counts and LiveKit's webhook (their OpenAPI
//! document: `openapi`).

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use axum_extra::extract::cookie::SignedCookieJar;
use futures::{Stream, StreamExt};
use livekit_api::access_token::{AccessToken, VideoGrants};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::WatchStream;
use utoipa::ToSchema;

use crate::db::{self, StreamRecord};
use crate::error::{ErrorBody, ErrorKind};
use crate::extract::{Authenticated, PathStreamer, ViewerDevice};
use crate::live::{ViewerCount, DELETION_WAIT};
use crate::{publisher_identity, room_name, ApiError, AppState};
pub use onair_core::wire::{EndResponse, Health, Me};

/// How long a publisher token stays valid: it is only needed to connect, and LiveKit hands
/// the connected client fresh tokens itself.
pub const PUBLISHER_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Same for viewers.
pub const VIEWER_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Liveness.
#[utoipa::path(get, path = "/api/health", tag = "streams", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { ok: true })
}

/// The streamer this API key belongs to: the studio's sign-in check.
#[utoipa::path(
    get, path = "/api/me", tag = "streams",
    security(("api_key" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    )
)]
pub async fn me(Authenticated(streamer): Authenticated) -> Result<Json<Me>, ApiError> {
    Ok(Json(Me {
        username: streamer.username,
    }))
}

/// What a viewer page needs before it connects.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamStatus {
    #[schema(example = "alice")]
    pub username: String,
    pub live: bool,
    /// The stream on air; when offline, the last one that was (absent if none ever was).
    pub stream: Option<StreamSummary>,
    /// The next stream the streamer scheduled (absent if none is upcoming).
    pub next_scheduled: Option<onair_core::wire::schedule::ScheduledStream>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StreamSummary {
    pub title: String,
    /// Pay-per-view price in cents; absent for a free stream.
    pub ppv_price_cents: Option<i64>,
    /// Unix milliseconds.
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl From<StreamRecord> for StreamSummary {
    fn from(r: StreamRecord) -> Self {
        Self {
            title: r.title,
            ppv_price_cents: r.ppv_price_cents,
            started_at: r.started_at,
            ended_at: r.ended_at,
        }
    }
}

/// Whether a streamer is live, with the stream on air or the last one.
#[utoipa::path(
    get, path = "/api/streams/{username}", tag = "streams",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice")),
    responses(
        (status = 200, body = StreamStatus),
        (status = 400, body = ErrorBody, description = "Malformed username"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn stream_status(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
) -> Result<Json<StreamStatus>, ApiError> {
    let on_air_id = state.hub.on_air(&streamer.username).await;
    let on_air = match on_air_id {
        Some(id) => db::stream(&state.db, id).await?,
        None => None,
    };
    let stream = match on_air {
        Some(record) => Some(record),
        None => db::history(&state.db, streamer.id, 1).await?.pop(),
    };
    let next_scheduled = crate::schedule::store::upcoming_of(&state.db, streamer.id)
        .await?
        .first()
        .map(|r| r.view(&state.config.currency));
    Ok(Json(StreamStatus {
        live: on_air_id.is_some(),
        username: streamer.username,
        stream: stream.map(Into::into),
        next_scheduled,
    }))
}

pub use onair_core::wire::{PublisherToken as TokenResponse, TokenRequest};

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A publisher token for the streamer's own room (can publish, cannot subscribe).
#[utoipa::path(
    post, path = "/api/streams/token", tag = "streams",
    request_body(content = TokenRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TokenResponse, description = "The token; the stream is live once the creator connects (a scheduled stream: that one, same id)"),
        (status = 400, body = ErrorBody, description = "A field is invalid (`field` says which) or the body is not JSON"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "`scheduled_stream_id` is none of this streamer's scheduled streams"),
        (status = 409, body = ErrorBody, description = "`not_upcoming`: the scheduled stream asked for started, ended, was cancelled or missed"),
        (status = 429, body = ErrorBody, description = "Rate limited; see Retry-After"),
    )
)]
pub async fn publisher_token(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    body: Bytes,
) -> Result<Json<TokenResponse>, ApiError> {
    let request: TokenRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be JSON like {{\"title\": \"…\", \"ppv_price\": 4.99}}: {e}"
        ))
    })?;
    let title = onair_core::validate::title(&request.title)?;
    let price = match request.price_text() {
        None => None,
        Some(text) => Some(onair_core::validate::price_cents(&text)?),
    };
    let now = unix_now();
    let resumed = match request.resume_stream_id {
        Some(id) => db::open_stream_of(&state.db, streamer.id, id).await?,
        None => None,
    };
    let scheduled = match resumed {
        Some(_) => None,
        None => {
            crate::schedule::take_for_go_live(&state, &streamer, request.scheduled_stream_id)
                .await?
        }
    };
    let stream_id = match (resumed, scheduled) {
        (Some(id), _) => id,
        (None, Some(row)) => {
            tracing::info!(
                streamer = streamer.username,
                id = row.id,
                "Go Live takes over a scheduled stream"
            );
            row.id
        }
        (None, None) => {
            db::create_stream(
                &state.db,
                streamer.id,
                &title,
                price,
                now.as_millis() as i64,
            )
            .await?
        }
    };
    let room = room_name(&streamer.username);
    // Right after End, LiveKit may still be closing the last stream's room; joining it then
    // would put the new stream in a room about to be closed.
    if !state.hub.wait_deleted(&room, DELETION_WAIT).await {
        tracing::warn!(%room, "issuing a token while the last room deletion is still under way");
    }
    let identity = publisher_identity(&streamer.username);
    // Least privilege: the creator can publish media to their own room and nothing else.
    let token = mint(
        &state,
        &identity,
        &streamer.username,
        PUBLISHER_TOKEN_TTL,
        VideoGrants {
            room_join: true,
            room: room.clone(),
            can_publish: Some(true),
            can_subscribe: Some(false),
            can_publish_data: Some(false),
            ..Default::default()
        },
    )?;
    Ok(Json(TokenResponse {
        url: state.config.livekit_url.clone(),
        token,
        room,
        identity,
        username: streamer.username.clone(),
        expires_at: (now + PUBLISHER_TOKEN_TTL).as_secs(),
        stream_id,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ViewerTokenResponse {
    pub url: String,
    pub token: String,
    pub room: String,
    /// A fresh identity for this viewer.
    pub identity: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// A subscribe-only token for watching a streamer who is live. A pay-per-view stream needs
/// a paid ticket in the body; the token then holds the ticket for its one viewer.
#[utoipa::path(
    post, path = "/api/streams/{username}/viewer-token", tag = "streams",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice")),
    request_body(content = Option<crate::ppv::ViewerTokenRequest>, content_type = "application/json"),
    responses(
        (status = 200, body = ViewerTokenResponse),
        (status = 400, body = ErrorBody, description = "Malformed username or body"),
        (status = 402, body = ErrorBody, description = "Pay-per-view: `payment_required` (with `price_cents`), `payment_pending` or `ticket_refunded`"),
        (status = 403, body = ErrorBody, description = "`banned`: this browser or address is banned by the streamer (or its ticket was forfeited)"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
        (status = 409, body = ErrorBody, description = "`offline`: the streamer is not live; `ticket_in_use`: the ticket is watching elsewhere"),
        (status = 429, body = ErrorBody, description = "Rate limited; see Retry-After"),
    )
)]
pub async fn viewer_token(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
    ViewerDevice { device, jar }: ViewerDevice,
    body: Bytes,
) -> Result<(SignedCookieJar, Json<ViewerTokenResponse>), ApiError> {
    let request: crate::ppv::ViewerTokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body must be empty or JSON like {{\"ticket\": \"tk_…\"}}: {e}"
            ))
        })?
    };
    if state.hub.on_air(&streamer.username).await.is_none() {
        return Err(ApiError::Conflict(
            ErrorKind::Offline,
            format!("{} is not live right now", streamer.username),
        ));
    }
    crate::chat::refuse_banned(&state, &streamer, &device).await?;
    let mut suffix = [0u8; 8];
    rand::rng().fill_bytes(&mut suffix);
    let identity = format!("viewer-{}", hex::encode(suffix));
    let ttl = crate::admission::admit(
        &state,
        &streamer.username,
        request.ticket.as_deref(),
        &identity,
    )
    .await?
    .unwrap_or(VIEWER_TOKEN_TTL);
    crate::chat::record_viewer(&state, &streamer, &device, &identity).await?;
    let room = room_name(&streamer.username);
    let now = unix_now();
    let token = mint(
        &state,
        &identity,
        "viewer",
        ttl,
        VideoGrants {
            room_join: true,
            room: room.clone(),
            can_publish: Some(false),
            can_subscribe: Some(true),
            can_publish_data: Some(false),
            ..Default::default()
        },
    )?;
    Ok((
        jar,
        Json(ViewerTokenResponse {
            url: state.config.livekit_url.clone(),
            token,
            room,
            identity,
            expires_at: (now + ttl).as_secs(),
        }),
    ))
}

fn mint(
    state: &AppState,
    identity: &str,
    name: &str,
    ttl: Duration,
    grants: VideoGrants,
) -> Result<String, ApiError> {
    AccessToken::with_api_key(
        &state.config.livekit_api_key,
        &state.config.livekit_api_secret,
    )
    .with_identity(identity)
    .with_name(name)
    .with_ttl(ttl)
    .with_grants(grants)
    .to_jwt()
    .map_err(|e| ApiError::Internal(e.into()))
}

/// Ends the streamer's broadcast: closes the record and deletes the LiveKit room so viewers
/// see the end at once. Safe to call twice.
#[utoipa::path(
    post, path = "/api/streams/end", tag = "streams",
    security(("api_key" = [])),
    responses(
        (status = 200, body = EndResponse),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
    )
)]
pub async fn end_stream(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
) -> Result<Json<EndResponse>, ApiError> {
    let name = room_name(&streamer.username);
    let stream = state.hub.end(&name, "ended_by_creator").await?;
    crate::schedule::store::release_claims(&state.db, streamer.id).await?;
    db::close_pending(
        &state.db,
        streamer.id,
        crate::live::now_ms(),
        "ended_before_going_live",
    )
    .await?;
    let room_deleted = state.hub.delete_room(&name).await;
    Ok(Json(EndResponse {
        stream,
        room_deleted,
    }))
}

/// The streamer's live viewer count.
#[utoipa::path(
    get, path = "/api/streams/{username}/viewers", tag = "streams",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice")),
    responses(
        (status = 200, body = ViewerCount),
        (status = 400, body = ErrorBody, description = "Malformed username"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn viewers(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
) -> Result<Json<ViewerCount>, ApiError> {
    Ok(Json(state.hub.room(&streamer.username).count()))
}

/// Server-sent events: a `viewers` event with the count at once and on every change, and a
/// comment line as a heartbeat while nothing changes.
#[utoipa::path(
    get, path = "/api/streams/{username}/viewers/events", tag = "streams",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice")),
    responses(
        (status = 200, content_type = "text/event-stream", body = String, description = "`event: viewers` with a ViewerCount as data"),
        (status = 400, body = ErrorBody, description = "Malformed username"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn viewer_events(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let counts = WatchStream::new(state.hub.room(&streamer.username).subscribe());
    let stream = counts
        .map(|count| {
            Ok(Event::default()
                .event("viewers")
                .json_data(count)
                .unwrap_or_default())
        })
        // Ends the response on shutdown so a graceful stop does not wait for subscribers.
        .take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(state.config.sse_keepalive())))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// At most this many streams (1–100, default 20).
    pub limit: Option<i64>,
}

/// Past broadcasts, newest first, with their figures.
#[utoipa::path(
    get, path = "/api/streams/{username}/history", tag = "streams",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice"), HistoryQuery),
    responses(
        (status = 200, body = Vec<StreamRecord>),
        (status = 400, body = ErrorBody, description = "Malformed username or limit"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Vec<StreamRecord>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 100".into(),
        ));
    }
    Ok(Json(db::history(&state.db, streamer.id, limit).await?))
}

/// LiveKit's webhooks, verified on the raw body with the `Authorization` JWT.
#[utoipa::path(
    post, path = "/api/livekit/webhook", tag = "livekit",
    request_body(content = String, content_type = "application/webhook+json"),
    responses(
        (status = 200, body = Health, description = "Accepted"),
        (status = 400, body = ErrorBody, description = "Signed, but not a webhook event"),
        (status = 401, body = ErrorBody, description = "Missing, forged, tampered or expired signature"),
    )
)]
pub async fn livekit_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Health>, ApiError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim())
        .ok_or(ApiError::BadSignature)?;
    let body = std::str::from_utf8(&body).map_err(|_| ApiError::BadSignature)?;
    let event = state
        .webhooks
        .receive(body, auth)
        .map_err(|err| match err {
            livekit_api::webhooks::WebhookError::InvalidData(e) => {
                ApiError::BadRequest(format!("not a LiveKit webhook event: {e}"))
            }
            other => {
                tracing::warn!(error = %other, "refused a webhook");
                ApiError::BadSignature
            }
        })?;
    tracing::debug!(event = event.event, id = event.id, "webhook");
    crate::events::dispatch(&state, &event).await?;
    Ok(Json(Health { ok: true }))
}
