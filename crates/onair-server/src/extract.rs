//! Who and what a request is about, taken from the request before a handler runs: the
//! streamer an API key belongs to, the streamer or ticket a path names. Each is an axum
//! extractor whose rejection is the API's own error, so handlers start with what they need
//! and every endpoint refuses the same way.

use axum::extract::{FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;

use crate::db::{self, Streamer, TicketRow};
use crate::{keys, tickets, ApiError, AppState};

/// The one parameter of the request's path; 400 with axum's reason when it is missing.
async fn path_param(parts: &mut Parts, state: &AppState) -> Result<String, ApiError> {
    let Path(value) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(value)
}

/// The streamer whose API key (`Authorization: Bearer <key>`) the request carries.
pub struct Authenticated(pub Streamer);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let hash = keys::hash(state.config.key_secret.as_bytes(), key);
        if let Some(streamer) = state.streamers.get(&hash) {
            return Ok(Self(streamer));
        }
        // Wrong keys are not cached: they are rate limited, and caching them would let anyone
        // fill the cache.
        let streamer = db::streamer_by_key_hash(&state.db, &hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        state.streamers.insert(hash, streamer.clone());
        Ok(Self(streamer))
    }
}

/// The streamer the path names (`…/{username}…`): 400 for a malformed name, 404 for an
/// unknown one.
pub struct PathStreamer(pub Streamer);

impl FromRequestParts<AppState> for PathStreamer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let username = path_param(parts, state).await?;
        let username = onair_core::validate::username(&username)?;
        db::streamer_by_username(&state.db, username)
            .await?
            .map(Self)
            .ok_or_else(|| ApiError::NotFound(format!("there is no streamer {username:?}")))
    }
}

/// The ticket the path names (`/api/tickets/{id}…`): 400 for something that is not a ticket
/// id, 404 for an unknown one.
pub struct PathTicket(pub TicketRow);

impl FromRequestParts<AppState> for PathTicket {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = path_param(parts, state).await?;
        if !tickets::valid_ticket_id(&id) {
            return Err(ApiError::BadRequest(
                "a ticket id looks like tk_ followed by 32 hex digits".into(),
            ));
        }
        db::ticket(&state.db, &id)
            .await?
            .map(Self)
            .ok_or_else(|| ApiError::NotFound("there is no such ticket".into()))
    }
}
