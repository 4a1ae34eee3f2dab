//! Who and what a request is about, taken from the request before a handler runs: the
//! streamer an API key belongs to, the streamer or ticket a path names. Each is an axum
//! extractor whose rejection is the API's own error, so handlers start with what they need
//! and every endpoint refuses the same way.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, SameSite, SignedCookieJar};

use crate::chat::{self, Device};
use crate::db::{self, Streamer, TicketRow};
use crate::{keys, tickets, ApiError, AppState};

/// The one parameter of the request's path; 400 with axum's reason when it is missing.
async fn path_param(parts: &mut Parts, state: &AppState) -> Result<String, ApiError> {
    let Path(value) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(value)
}

/// A request body read as JSON; a 400 showing what it should look like when it is not.
pub fn json_body<T: serde::de::DeserializeOwned>(
    body: &axum::body::Bytes,
    like: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body must be JSON like {like}: {e}")))
}

/// The numeric id the path names (`…/{id}`): 400 when it is not a 64-bit whole number.
pub struct PathId(pub i64);

impl FromRequestParts<AppState> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Self(id))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
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

/// A viewer's browser: the device id of its signed cookie (a new one when it has none or a
/// forged one) and the address it comes from (through trusted proxies). Return `jar` with the
/// answer so a new cookie is set.
pub struct ViewerDevice {
    pub device: Device,
    pub jar: SignedCookieJar,
}

impl FromRequestParts<AppState> for ViewerDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let jar = SignedCookieJar::from_headers(&parts.headers, state.cookie_key.clone());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let address = state.viewer_limiter.client_ip(peer, &parts.headers);
        let known = jar
            .get(chat::DEVICE_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|id| chat::valid_device_id(id));
        let (id, jar) = match known {
            Some(id) => (id, jar),
            None => {
                let id = chat::new_device_id();
                let secure = state
                    .config
                    .public_url
                    .as_deref()
                    .is_some_and(|url| url.starts_with("https://"));
                // HttpOnly: page scripts never see it; Lax: sent by the page's own requests
                // and when a viewer follows a link to the stream.
                let cookie = Cookie::build((chat::DEVICE_COOKIE, id.clone()))
                    .http_only(true)
                    .same_site(SameSite::Lax)
                    .secure(secure)
                    .path("/")
                    .permanent();
                (id, jar.add(cookie))
            }
        };
        Ok(Self {
            device: Device { id, address },
            jar,
        })
    }
}
