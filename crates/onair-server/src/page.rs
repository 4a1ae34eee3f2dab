//! The viewer page at `/live/{username}`: the built page (`ui/`, second Vite entry) for a
//! streamer who exists, a not-found page otherwise. The name is checked here with the same
//! rules as the API, so the page's script only ever runs for a real streamer, and a name
//! shown back is always escaped.

use std::path::Path as FsPath;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::extract::ViewerDevice;
use crate::{db, AppState};

/// The page's hashed scripts and styles: compressed, cached for good (a new build has new
/// names).
pub fn assets<S: Clone + Send + Sync + 'static>(dir: &FsPath) -> Router<S> {
    Router::new()
        .fallback_service(ServeDir::new(dir))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
}

/// The page sets the viewer's device cookie before its script runs, so the chat and the
/// viewer token, requested at once, belong to the same device.
pub async fn viewer_page(
    State(state): State<AppState>,
    ViewerDevice { jar, .. }: ViewerDevice,
    username: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(username)) = username else {
        return not_found("That address does not name a streamer.");
    };
    let response = built_page(&state, &username, "live.html").await;
    (jar, response).into_response()
}

/// A past stream's replay, `/live/{username}/replays/{id}`: the same checks on the streamer;
/// the page's script asks for the replay and says when there is none.
pub async fn replay_page(
    State(state): State<AppState>,
    path: Result<Path<(String, i64)>, PathRejection>,
) -> Response {
    let Ok(Path((username, id))) = path else {
        return not_found("That address does not name a replay.");
    };
    // Another streamer's replay is not shown under this name.
    // Another streamer's replay is not shown under this name (none at all: the page says so
    // itself, the replay may have been deleted).
    if let Ok(Some(replay)) = crate::replay::store::by_stream(&state.db, id).await {
        match db::streamer_by_username(&state.db, &username).await {
            Ok(Some(streamer)) if streamer.id == replay.streamer_id => {}
            Ok(_) => return not_found("That streamer has no such replay."),
            Err(err) => {
                tracing::error!(error = %err, "replay page: streamer lookup failed");
                return not_found(
                    "That replay could not be looked up; reload the page in a moment.",
                );
            }
        }
    }
    built_page(&state, &username, "replay.html").await
}

/// `page` of the built viewer pages, for a streamer who exists.
async fn built_page(state: &AppState, username: &str, page_file: &str) -> Response {
    if onair_core::validate::username(username).is_err() {
        return not_found(&format!(
            "“{}” is not a streamer name: names are 3–32 letters, digits, _ or -.",
            html_escape::encode_text(username)
        ));
    }
    match db::streamer_by_username(&state.db, username).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return not_found(&format!(
                "There is no streamer called “{}” on OnAir. Check the address you were given.",
                html_escape::encode_text(username)
            ))
        }
        Err(err) => {
            tracing::error!(error = %err, "viewer page: streamer lookup failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not look this stream up. Reload the page in a moment.",
            );
        }
    }
    // Read on every request (a few hundred bytes): a rebuilt page is served without a restart.
    let file = state.config.web_dir.join(page_file);
    match tokio::fs::read_to_string(&file).await {
        Ok(html) => {
            let mut response = Html(html).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            if let Ok(csp) =
                HeaderValue::from_str(&content_security_policy(&state.config.livekit_url))
            {
                headers.insert(header::CONTENT_SECURITY_POLICY, csp);
            }
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            response
        }
        Err(err) => {
            tracing::error!(file = %file.display(), error = %err, "the viewer page is not built: run `npm --prefix ui ci && npm --prefix ui run build` (scripts/setup.sh does), or point ONAIR_WEB_DIR at a build");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Viewer page unavailable",
                "This server has no viewer page installed. Its operator can find the fix in the server log.",
            )
        }
    }
}

/// Scripts and styles from this server only; media and signalling from the LiveKit server
/// the tokens name.
fn content_security_policy(livekit_url: &str) -> String {
    let http = livekit_url
        .replacen("ws://", "http://", 1)
        .replacen("wss://", "https://", 1);
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         media-src 'self' blob:; connect-src 'self' {livekit_url} {http}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

fn not_found(message: &str) -> Response {
    page(StatusCode::NOT_FOUND, "No such stream", message)
}

/// A small page of its own (no script): `message` must already be escaped.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · OnAir</title><style>\
         body{{margin:0;min-height:100vh;display:grid;place-items:center;background:#0f1115;\
         color:#e8e8ea;font:16px/1.5 system-ui,sans-serif}}main{{max-width:32rem;padding:2rem}}\
         h1{{font-size:1.5rem;margin:0 0 .5rem}}p{{color:#a9abb3}}</style></head>\
         <body><main data-state=\"not-found\"><h1>{title}</h1><p id=\"message\">{message}</p>\
         </main></body></html>"
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_page_reach_the_livekit_server_and_nothing_else() {
        let csp = content_security_policy("ws://127.0.0.1:7880");
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:7880 http://127.0.0.1:7880;"));
        assert!(csp.contains("script-src 'self';"));
        let csp = content_security_policy("wss://lk.example.com");
        assert!(csp.contains("wss://lk.example.com https://lk.example.com;"));
    }
}
