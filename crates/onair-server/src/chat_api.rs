//! The chat over HTTP: a viewer's messages and event stream under the streamer's path, the
//! creator's moderation under `/api/chat` with their key. The work is in [`crate::chat`].

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use axum_extra::extract::cookie::SignedCookieJar;
use futures::{Stream, StreamExt};
use onair_core::wire::chat::{
    BanOutcome, BanRequest, ChatBan, ChatMessage, ChatPost, ChatSettings, ChatStanding,
    ModerationEntry, TimeoutRequest,
};
use serde::Deserialize;

use crate::chat::{self, store};
use crate::error::ErrorBody;
use crate::extract::{json_body, Authenticated, PathId, PathStreamer, ViewerDevice};
use crate::{ApiError, AppState};

fn limit_of(
    query: Result<Query<LimitQuery>, QueryRejection>,
    default: i64,
) -> Result<i64, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = query.limit.unwrap_or(default);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 200".into(),
        ));
    }
    Ok(limit)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LimitQuery {
    /// At most this many (1–200).
    pub limit: Option<i64>,
}

/// Sends a message to the streamer's chat while they are live. The answer sets the viewer's
/// device cookie when it had none.
#[utoipa::path(
    post, path = "/api/streams/{username}/chat", tag = "chat",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice")),
    request_body(content = ChatPost, content_type = "application/json"),
    responses(
        (status = 201, body = ChatMessage, description = "Stored and sent to every open chat"),
        (status = 400, body = ErrorBody, description = "`invalid` (`field`: `name` or `text`) or a body that is not JSON"),
        (status = 402, body = ErrorBody, description = "A pay-per-view stream: only ticket holders chat"),
        (status = 403, body = ErrorBody, description = "`banned`, `timed_out` or `too_new` (see Retry-After)"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
        (status = 409, body = ErrorBody, description = "`offline`, or `name_taken`"),
        (status = 422, body = ErrorBody, description = "`blocked_term`: nobody received it"),
        (status = 429, body = ErrorBody, description = "`slow_mode` or `rate_limited`; see Retry-After"),
    )
)]
pub async fn post_message(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
    ViewerDevice { device, jar }: ViewerDevice,
    body: Bytes,
) -> Result<(StatusCode, SignedCookieJar, Json<ChatMessage>), ApiError> {
    let post: ChatPost = json_body(&body, r#"{"name": "night_owl", "text": "hello"}"#)?;
    let message = chat::post(&state, &streamer, &device, &post).await?;
    Ok((StatusCode::CREATED, jar, Json(message)))
}

/// The newest messages of the streamer's chat still shown, oldest first.
#[utoipa::path(
    get, path = "/api/streams/{username}/chat", tag = "chat", operation_id = "chat_history",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice"), LimitQuery),
    responses(
        (status = 200, body = Vec<ChatMessage>),
        (status = 400, body = ErrorBody, description = "Malformed username or limit"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
    query: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Vec<ChatMessage>>, ApiError> {
    let limit = limit_of(query, chat::feed::RECENT)?;
    Ok(Json(chat::recent(&state, &streamer, limit).await?))
}

/// Server-sent events of the streamer's chat: `mode` (slow mode, established-only) and
/// `standing` (this viewer: welcome, timed out, banned) on connect and on change; then the
/// newest messages, or with `Last-Event-ID` everything after it; `ready`; then `message` and `hidden`
/// as they happen, each with its id as the SSE id. A `reset` means: clear the chat (the
/// client was too far behind) and read on.
#[utoipa::path(
    get, path = "/api/streams/{username}/chat/events", tag = "chat", operation_id = "chat_events",
    params(
        ("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = String, description = "`message` (ChatMessage), `hidden` (ChatHidden), `mode` (ChatMode), `standing` (ChatStanding), `ready` (what came before it was history), `reset`"),
        (status = 400, body = ErrorBody, description = "Malformed username"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
    ViewerDevice { device, jar }: ViewerDevice,
    headers: HeaderMap,
) -> Result<
    (
        SignedCookieJar,
        Sse<impl Stream<Item = Result<Event, Infallible>>>,
    ),
    ApiError,
> {
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let feed = chat::feed(state.clone(), streamer.id, device, last_event_id)
        .await?
        // Ends the response on shutdown so a graceful stop does not wait for subscribers.
        .take_until(state.shutdown.clone().cancelled_owned());
    Ok((
        jar,
        Sse::new(feed).keep_alive(KeepAlive::new().interval(state.config.sse_keepalive())),
    ))
}

/// Takes a message down: gone from every open chat and from history. Safe to repeat.
#[utoipa::path(
    post, path = "/api/chat/messages/{id}/hide", tag = "chat",
    params(("id" = i64, Path, description = "The message")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Hidden"),
        (status = 400, body = ErrorBody, description = "`bad_request`: the id is not a 64-bit whole number"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No such message in this streamer's chat"),
    )
)]
pub async fn hide(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    chat::hide(&state, &streamer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Times out the author of a message (1 s to 14 days): their chat says so and their messages
/// are refused with `timed_out` until then.
#[utoipa::path(
    post, path = "/api/chat/timeouts", tag = "chat",
    request_body(content = TimeoutRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ChatStanding, description = "Timed out until `until`"),
        (status = 400, body = ErrorBody, description = "`invalid` (`field`: `seconds`) or not JSON"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No such message in this streamer's chat"),
    )
)]
pub async fn time_out(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    body: Bytes,
) -> Result<Json<ChatStanding>, ApiError> {
    let request: TimeoutRequest = json_body(&body, r#"{"message_id": 42, "seconds": 300}"#)?;
    let until = chat::time_out(&state, &streamer, &request).await?;
    Ok(Json(ChatStanding::TimedOut { until }))
}

/// Bans the author of a message from this streamer's chat and streams: their device, and
/// their address unless many viewers share it. Their viewers are removed from the stream and
/// their tickets refunded or forfeited.
#[utoipa::path(
    post, path = "/api/chat/bans", tag = "chat",
    request_body(content = BanRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 201, body = BanOutcome),
        (status = 400, body = ErrorBody, description = "`invalid` (`field`: `reason`) or not JSON"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No such message in this streamer's chat"),
        (status = 502, body = ErrorBody, description = "`payment_provider` or `livekit` failed; the ban holds, try the rest again"),
    )
)]
pub async fn ban(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    body: Bytes,
) -> Result<(StatusCode, Json<BanOutcome>), ApiError> {
    let request: BanRequest = json_body(&body, r#"{"message_id": 42, "refund": false}"#)?;
    let outcome = chat::ban(&state, &streamer, &request).await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// The bans in force, newest first.
#[utoipa::path(
    get, path = "/api/chat/bans", tag = "chat",
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<ChatBan>),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
    )
)]
pub async fn bans(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
) -> Result<Json<Vec<ChatBan>>, ApiError> {
    Ok(Json(store::bans(&state.db, streamer.id).await?))
}

/// Lifts a ban.
#[utoipa::path(
    delete, path = "/api/chat/bans/{id}", tag = "chat",
    params(("id" = i64, Path, description = "The ban")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Lifted"),
        (status = 400, body = ErrorBody, description = "`bad_request`: the id is not a 64-bit whole number"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No such ban in force"),
    )
)]
pub async fn unban(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    chat::unban(&state, &streamer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The streamer's chat settings.
#[utoipa::path(
    get, path = "/api/chat/settings", tag = "chat",
    security(("api_key" = [])),
    responses(
        (status = 200, body = ChatSettings),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
    )
)]
pub async fn settings(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
) -> Result<Json<ChatSettings>, ApiError> {
    let rules = store::rules(&state.db, streamer.id).await?;
    Ok(Json(chat::settings_of(&rules)))
}

/// Replaces the streamer's chat settings; every open chat is told the new mode at once.
#[utoipa::path(
    put, path = "/api/chat/settings", tag = "chat",
    request_body(content = ChatSettings, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ChatSettings, description = "As stored (terms trimmed, lower-cased, once each)"),
        (status = 400, body = ErrorBody, description = "`invalid` (`field`: `slow_mode_secs`, `established_minutes` or `blocked_terms`) or not JSON"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
    )
)]
pub async fn set_settings(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    body: Bytes,
) -> Result<Json<ChatSettings>, ApiError> {
    let settings: ChatSettings = json_body(
        &body,
        r#"{"slow_mode_secs": 3, "established_minutes": 0, "blocked_terms": ["spam"]}"#,
    )?;
    Ok(Json(
        chat::set_settings(&state, &streamer, &settings).await?,
    ))
}

/// The streamer's moderation actions, newest first.
#[utoipa::path(
    get, path = "/api/chat/log", tag = "chat",
    params(LimitQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<ModerationEntry>),
        (status = 400, body = ErrorBody, description = "Malformed limit"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
    )
)]
pub async fn log(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    query: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Vec<ModerationEntry>>, ApiError> {
    let limit = limit_of(query, 100)?;
    Ok(Json(
        store::moderation_log(&state.db, streamer.id, limit).await?,
    ))
}
