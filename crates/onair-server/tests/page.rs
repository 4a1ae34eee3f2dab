//! The viewer page's routes and the stream status it reads, without a browser (the page
//! itself is tested in Chromium by the workspace's tests/viewer_page.rs).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use onair_server::{app, db, keys, AppState, Config};
use serde_json::Value;
use tower::ServiceExt;

struct Fixture {
    state: AppState,
    _dir: tempfile::TempDir,
}

/// A backend with streamer "alice" whose web directory holds a page and one asset, unless
/// `built` is false.
async fn fixture(built: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("onair.db").display());
    let pool = db::open(&url).await.unwrap();
    db::add_streamer(&pool, "alice", &keys::hash(b"k", &keys::generate()), 0)
        .await
        .unwrap()
        .unwrap();
    let mut config = Config::new(
        &url,
        "ws://127.0.0.1:7880",
        "lk",
        "lk-secret-of-at-least-thirty-two-chars",
        "k",
    );
    config.web_dir = dir.path().join("web");
    if built {
        std::fs::create_dir_all(config.web_dir.join("assets")).unwrap();
        std::fs::write(
            config.web_dir.join("live.html"),
            "<!doctype html><div id=app></div>",
        )
        .unwrap();
        std::fs::write(
            config.web_dir.join("assets/live-abc.js"),
            "console.log('x');".repeat(200),
        )
        .unwrap();
    }
    Fixture {
        state: AppState::new(config, pool),
        _dir: dir,
    }
}

async fn get(f: &Fixture, path: &str, gzip: bool) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, bytes) = get_bytes(f, path, gzip).await;
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn get_bytes(
    f: &Fixture,
    path: &str,
    gzip: bool,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    if gzip {
        request = request.header(header::ACCEPT_ENCODING, "gzip");
    }
    let response = app(f.state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes.to_vec())
}

#[tokio::test]
async fn a_known_streamer_gets_the_page_with_a_policy_that_allows_only_this_server_and_livekit() {
    let f = fixture(true).await;
    let (status, headers, body) = get(&f, "/live/alice", false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=app"));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("ws://127.0.0.1:7880"), "{csp}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
}

#[tokio::test]
async fn unknown_or_malformed_names_get_a_not_found_page_with_the_name_escaped() {
    let f = fixture(true).await;
    for (path, shown) in [
        ("/live/nobody", "“nobody”"),
        ("/live/bad%20name", "“bad name”"),
        (
            "/live/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "“&lt;script&gt;alert(1)&lt;/script&gt;”",
        ),
    ] {
        let (status, headers, body) = get(&f, path, false).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains(shown), "{path}: {body}");
        assert!(!body.contains("<script"), "{path}: {body}");
        assert!(headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'"));
    }
}

#[tokio::test]
async fn a_server_without_the_built_page_says_so_instead_of_a_blank_page() {
    let f = fixture(false).await;
    let (status, _, body) = get(&f, "/live/alice", false).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("no viewer page installed"), "{body}");
}

#[tokio::test]
async fn assets_are_sent_compressed_and_cached_for_good() {
    let f = fixture(true).await;
    let (status, headers, body) = get_bytes(&f, "/live/assets/live-abc.js", true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert!(body.len() < 200, "{} bytes", body.len());
    assert!(headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let (status, _, _) = get(&f, "/live/assets/missing.js", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_status_of_a_streamer_who_never_streamed_is_offline_with_no_stream() {
    let f = fixture(true).await;
    let (status, _, body) = get(&f, "/api/streams/alice", false).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["live"], false);
    assert_eq!(v["stream"], Value::Null);
    assert_eq!(v["username"], "alice");
    let (status, _, _) = get(&f, "/api/streams/nobody", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
