//! Replays over HTTP: the creator uploads (`PUT`) and deletes with their key; anyone lists a
//! streamer's replays and plays one, with byte ranges; a pay-per-view stream's replay plays
//! with a paid ticket for that stream (`?ticket=`). The work is in [`crate::replay`].

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use onair_core::wire::replay::Replay;
use onair_core::wire::ErrorKind;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::error::ErrorBody;
use crate::extract::{Authenticated, PathId, PathStreamer};
use crate::replay::{self, store, ReplayError};
use crate::tickets::Payment;
use crate::{db, ApiError, AppState};

impl From<ReplayError> for ApiError {
    fn from(err: ReplayError) -> Self {
        let refused = |kind| ApiError::Refused {
            kind,
            message: err.to_string(),
            retry_after_s: None,
        };
        match err {
            ReplayError::NotFound(message) => Self::NotFound(message),
            ReplayError::NotEnded(_) => Self::Conflict(ErrorKind::NotEnded, err.to_string()),
            ReplayError::TooLarge { .. } => refused(ErrorKind::TooLarge),
            ReplayError::Refused(_) | ReplayError::Unreadable(_) => {
                refused(ErrorKind::InvalidRecording)
            }
            ReplayError::CutOff(message) => Self::BadRequest(message),
            ReplayError::Internal(err) => Self::Internal(err),
            ReplayError::Store(err) => err.into(),
        }
    }
}

/// Uploads the recording of one of the creator's ended streams as its replay (the body is the
/// MP4 file). It is checked (an H.264 MP4 with AAC or no sound, not far longer than the
/// stream) and remuxed for playing in browsers; a new upload replaces the stream's replay.
#[utoipa::path(
    put, path = "/api/replays/{id}", tag = "replays", operation_id = "upload_replay",
    params(("id" = i64, Path, description = "The stream")),
    // Any content type is read as the file's bytes (the CLI and the studio send video/mp4).
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("api_key" = [])),
    responses(
        (status = 201, body = Replay),
        (status = 400, body = ErrorBody, description = "An id that is not a 64-bit whole number, or an upload cut off"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No such stream of this streamer"),
        (status = 409, body = ErrorBody, description = "`not_ended`: the stream is live or never went on air"),
        (status = 413, body = ErrorBody, description = "`too_large`: over the server's limit"),
        (status = 422, body = ErrorBody, description = "`invalid_recording`: not an H.264 MP4, no pictures, or far longer than the stream; the message says which"),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    PathId(id): PathId,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Replay>), ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let replay = replay::upload(&state, &streamer, id, declared, body).await?;
    Ok((StatusCode::CREATED, Json(replay)))
}

/// Deletes the replay of one of the creator's streams.
#[utoipa::path(
    delete, path = "/api/replays/{id}", tag = "replays", operation_id = "delete_replay",
    params(("id" = i64, Path, description = "The stream")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, body = ErrorBody, description = "An id that is not a 64-bit whole number"),
        (status = 401, body = ErrorBody, description = "Missing or wrong API key"),
        (status = 404, body = ErrorBody, description = "No replay of a stream of this streamer"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(streamer): Authenticated,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    replay::delete(&state, &streamer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One replay.
#[utoipa::path(
    get, path = "/api/replays/{id}", tag = "replays", operation_id = "replay",
    params(("id" = i64, Path, description = "The stream")),
    responses(
        (status = 200, body = Replay),
        (status = 400, body = ErrorBody, description = "An id that is not a 64-bit whole number"),
        (status = 404, body = ErrorBody, description = "No replay of that stream"),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    PathId(id): PathId,
) -> Result<Json<Replay>, ApiError> {
    Ok(Json(found(&state, id).await?.view(&state.config.currency)))
}

/// The streamer's replays, newest stream first.
#[utoipa::path(
    get, path = "/api/streams/{username}/replays", tag = "replays", operation_id = "replays_of",
    params(("username" = String, Path, description = "The streamer", pattern = r"^[A-Za-z0-9_-]{3,32}$", example = "alice")),
    responses(
        (status = 200, body = Vec<Replay>),
        (status = 400, body = ErrorBody, description = "Malformed username"),
        (status = 404, body = ErrorBody, description = "No such streamer"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    PathStreamer(streamer): PathStreamer,
) -> Result<Json<Vec<Replay>>, ApiError> {
    let rows = store::of_streamer(&state.db, streamer.id).await?;
    Ok(Json(
        rows.iter()
            .map(|r| r.view(&state.config.currency))
            .collect(),
    ))
}

#[derive(serde::Deserialize)]
pub struct TicketQuery {
    ticket: Option<String>,
}

/// The replay's video, with byte ranges (`Range: bytes=…` → 206). A pay-per-view stream's
/// replay needs `?ticket=` a paid ticket for that stream.
#[utoipa::path(
    get, path = "/api/replays/{id}/video", tag = "replays", operation_id = "replay_video",
    params(("id" = i64, Path, description = "The stream"), ("ticket" = Option<String>, Query, description = "A paid ticket for the stream, for a pay-per-view replay")),
    responses(
        (status = 200, content_type = "video/mp4", description = "The whole file"),
        (status = 206, content_type = "video/mp4", description = "The range asked for"),
        (status = 400, body = ErrorBody, description = "An id that is not a 64-bit whole number, or a query that is not `ticket=…`"),
        (status = 416, description = "A range outside the file"),
        (status = 402, body = ErrorBody, description = "`payment_required`: a pay-per-view replay and no paid ticket for its stream"),
        (status = 404, body = ErrorBody, description = "No replay of that stream"),
    )
)]
pub async fn video(
    State(state): State<AppState>,
    PathId(id): PathId,
    query: Result<Query<TicketQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let row = found(&state, id).await?;
    if let Some(price_cents) = row.ppv_price_cents {
        let ticket = match &query.ticket {
            Some(id) => db::ticket(&state.db, id).await?,
            None => None,
        };
        let admits = ticket
            .as_ref()
            .is_some_and(|t| t.stream_id == row.stream_id && t.rules().payment == Payment::Paid);
        if !admits {
            return Err(ApiError::PaymentRequired {
                kind: ErrorKind::PaymentRequired,
                message: "this replay is pay-per-view: a paid ticket for its stream is needed"
                    .into(),
                price_cents,
                currency: state.config.currency.clone(),
            });
        }
    }
    // `.mp4`: served as video/mp4.
    let served = ServeFile::new(row.path(&state))
        .oneshot(request)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("serving the replay: {e}")))?;
    Ok(served.map(Body::new))
}

async fn found(state: &AppState, id: i64) -> Result<store::ReplayRow, ApiError> {
    store::by_stream(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("stream {id} has no replay")))
}
