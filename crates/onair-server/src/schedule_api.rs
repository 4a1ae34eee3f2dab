//! Scheduled streams over HTTP: the creator's schedule under `/api/schedule` with their key,
//! the public lists, and the calendar files under the viewer page's path. The work is in
//! [`crate::schedule`].

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use onair_core::schedule::DAY_MS;
use onair_core::wire::schedule::{CancelResponse, ScheduleRequest, ScheduledStream};

use crate::error::ErrorBody;
use crate::extract::{json_body, Authenticated, PathId, PathStreamer};
use crate::live::now_ms;
use crate::schedule::{self, ics, store};
use crate::{ApiError, AppState};

const EXAMPLE: &str = r#"{"title": "Friday jam", "description": "", "starts_at": 1800000000000, "duration_minutes": 90, "ppv_price": 4.99}"#;

/// How far back the calendar feed and the creator's list reach.
const PAST_DAYS: i64 = 30;
/// The most streams the public list of every streamer's upcoming streams shows.
const UPCOMING_LIMIT: i64 = 100;

/// Plans a stream. Nothing is stored when a field is wrong.
#[utoipa::path(
    post, path = "/api/schedule", tag = "schedule",
    request_body(content = ScheduleRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 201, body = ScheduledStream),
        (status = 400, body = ErrorBody, description = "`invalid` (`field`: `title`, `description`, `starts_at`, `duration_minutes` or `ppv_price`; `starts_at` also when 50 streams are already upcoming) or not JSON"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    body: Bytes,
) -> Result<(StatusCode, Json<ScheduledStream>), ApiError> {
    let request: ScheduleRequest = json_body(&body, EXAMPLE)?;
    let stream = schedule::create(&state, &streamer, &request).await?;
    Ok((StatusCode::CREATED, Json(stream)))
}

/// The creator's scheduled streams of the last 30 days and ahead, in every state, by start.
#[utoipa::path(
    get, path = "/api/schedule", tag = "schedule",
    security(("api_key" = [])),
    responses(
        (status = 200, body = Vec<ScheduledStream>),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
) -> Result<Json<Vec<ScheduledStream>>, ApiError> {
    let rows = store::feed_of(&state.db, streamer.id, now_ms() - PAST_DAYS * DAY_MS).await?;
    Ok(Json(
        rows.iter()
            .map(|r| r.view(&state.config.currency))
            .collect(),
    ))
}

/// Changes an upcoming stream (all its details, as when planning it). Its `sequence` goes up.
#[utoipa::path(
    put, path = "/api/schedule/{id}", tag = "schedule",
    params(("id" = i64, Path, description = "The scheduled stream")),
    request_body(content = ScheduleRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ScheduledStream),
        (status = 400, body = ErrorBody, description = "`invalid` with the `field`, not JSON, or an id that is not a 64-bit whole number"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No such scheduled stream of this streamer"),
        (status = 409, body = ErrorBody, description = "`not_upcoming`: it started, ended, was cancelled or missed"),
    )
)]
pub async fn edit(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    PathId(id): PathId,
    body: Bytes,
) -> Result<Json<ScheduledStream>, ApiError> {
    let request: ScheduleRequest = json_body(&body, EXAMPLE)?;
    Ok(Json(schedule::edit(&state, &streamer, id, &request).await?))
}

/// Calls an upcoming stream off: its calendar event says `STATUS:CANCELLED` and its paid
/// tickets are refunded. Calling off again retries refunds that failed.
#[utoipa::path(
    delete, path = "/api/schedule/{id}", tag = "schedule",
    params(("id" = i64, Path, description = "The scheduled stream")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = CancelResponse),
        (status = 400, body = ErrorBody, description = "`bad_request`: the id is not a 64-bit whole number"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No such scheduled stream of this streamer"),
        (status = 409, body = ErrorBody, description = "`not_upcoming`: it started, ended or was missed"),
        (status = 502, body = ErrorBody, description = "`payment_provider`: a refund failed; call off again to retry"),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    PathId(id): PathId,
) -> Result<Json<CancelResponse>, ApiError> {
    let cancelled = schedule::cancel(&state, &streamer, id).await?;
    Ok(Json(CancelResponse {
        stream: cancelled.stream,
        refunded_tickets: cancelled.refunded_tickets,
    }))
}

/// One scheduled stream in any state (public: the viewer page follows the one it shows).
#[utoipa::path(
    get, path = "/api/schedule/{id}", tag = "schedule",
    params(("id" = i64, Path, description = "The scheduled stream")),
    responses(
        (status = 200, body = ScheduledStream),
        (status = 400, body = ErrorBody, description = "`bad_request`: the id is not a 64-bit whole number"),
        (status = 404, body = ErrorBody, description = "No such scheduled stream"),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<ScheduledStream>, ApiError> {
    store::get(&state.db, id)
        .await?
        .map(|row| Json(row.view(&state.config.currency)))
        .ok_or_else(|| ApiError::NotFound(format!("there is no scheduled stream {id}")))
}

/// Every streamer's upcoming streams, soonest first (at most 100).
#[utoipa::path(
    get, path = "/api/schedule/upcoming", tag = "schedule",
    responses((status = 200, body = Vec<ScheduledStream>))
)]
pub async fn upcoming(
    State(state): State<AppState>,
) -> Result<Json<Vec<ScheduledStream>>, ApiError> {
    let rows = store::upcoming_all(&state.db, UPCOMING_LIMIT).await?;
    Ok(Json(
        rows.iter()
            .map(|r| r.view(&state.config.currency))
            .collect(),
    ))
}

/// A streamer's upcoming streams, soonest first.
#[utoipa::path(
    get, path = "/api/streams/{username}/schedule", tag = "schedule",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice")),
    responses(
        (status = 200, body = Vec<ScheduledStream>),
        (status = 400, body = ErrorBody, description = "Malformed username"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn upcoming_of(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
) -> Result<Json<Vec<ScheduledStream>>, ApiError> {
    let rows = store::upcoming_of(&state.db, streamer.id).await?;
    Ok(Json(
        rows.iter()
            .map(|r| r.view(&state.config.currency))
            .collect(),
    ))
}

/// The host part of UIDs and the base of links: the configured public address, else the
/// request's `Host`.
fn origin(state: &AppState, headers: &HeaderMap) -> (String, String) {
    let base = state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    });
    let base = base.trim_end_matches('/').to_owned();
    let host = base
        .split_once("://")
        .map_or(base.as_str(), |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or("localhost")
        .to_owned();
    (host, base)
}

fn calendar_response(text: String, file: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/calendar; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{file}\""),
            ),
            // Calendar apps poll; a minute old is fresh enough and spares the database.
            (header::CACHE_CONTROL, "public, max-age=60".to_owned()),
        ],
        text,
    )
        .into_response()
}

/// The streamer's schedule as an iCalendar feed to subscribe to: the last 30 days and ahead,
/// cancelled and missed streams included (as cancelled events).
#[utoipa::path(
    get, path = "/live/{username}/schedule.ics", tag = "schedule",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice")),
    responses(
        (status = 200, content_type = "text/calendar", body = String),
        (status = 400, body = ErrorBody, description = "Malformed username"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathStreamer(streamer): PathStreamer,
) -> Result<Response, ApiError> {
    let rows = store::feed_of(&state.db, streamer.id, now_ms() - PAST_DAYS * DAY_MS).await?;
    let (host, base) = origin(&state, &headers);
    let page = format!("{base}/live/{}", streamer.username);
    let name = format!("{} on OnAir", streamer.username);
    Ok(calendar_response(
        ics::calendar(&name, &rows, &host, &page),
        &format!("{}.ics", streamer.username),
    ))
}

/// One scheduled stream as an iCalendar file ("Add to calendar"); the same event, UID and
/// sequence as in the feed.
#[utoipa::path(
    get, path = "/live/{username}/schedule/{file}", tag = "schedule",
    params(
        ("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice"),
        ("file" = String, Path, description = "The stream's id and `.ics`", example = "42.ics"),
    ),
    responses(
        (status = 200, content_type = "text/calendar", body = String),
        (status = 400, body = ErrorBody, description = "Malformed username or file name"),
        (status = 404, body = ErrorBody, description = "No such streamer, or no such scheduled stream of theirs"),
    )
)]
pub async fn event_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((username, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let username = onair_core::validate::username(&username)?;
    let id: i64 = file
        .strip_suffix(".ics")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            ApiError::BadRequest("the file is the stream's id and .ics, like 42.ics".into())
        })?;
    let row = store::get(&state.db, id)
        .await?
        .filter(|row| row.username == username)
        .ok_or_else(|| ApiError::NotFound(format!("{username} has no scheduled stream {id}")))?;
    let (host, base) = origin(&state, &headers);
    let page = format!("{base}/live/{username}");
    Ok(calendar_response(
        ics::calendar(&row.title, std::slice::from_ref(&row), &host, &page),
        &format!("{id}.ics"),
    ))
}
