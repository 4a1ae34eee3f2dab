//! The token request's retry policy against a stand-in backend that answers what each test
//! scripts (the real backend cannot be made to fail on cue).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use backon::ExponentialBuilder;
use onair_client::{BackendClient, BackendError, TokenRequest};

/// One scripted answer: status, headers, body.
type Answer = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// Serves `/api/streams/token` answering `script` in order (the last one repeats); returns
/// its URL and the count of requests seen.
async fn stand_in(script: Vec<Answer>) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(Mutex::new(script));
    let counter = seen.clone();
    let app = axum::Router::new().route(
        "/api/streams/token",
        post(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            async move {
                let script = script.lock().unwrap();
                let (status, headers, body) = &script[n.min(script.len() - 1)];
                let mut map = HeaderMap::new();
                for (k, v) in headers {
                    map.insert(*k, v.parse().unwrap());
                }
                (
                    StatusCode::from_u16(*status).unwrap(),
                    map,
                    body.to_string(),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

const TOKEN: &str = r#"{"url":"ws://lk","token":"t","room":"alice","identity":"creator-alice","username":"alice","expires_at":1,"stream_id":7}"#;
const DOWN: &str = r#"{"error":{"kind":"internal","message":"database locked"}}"#;

fn client(url: &str) -> BackendClient {
    BackendClient::new(url, "onair_key").with_backoff(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(20))
            .with_max_times(2),
    )
}

fn request() -> TokenRequest {
    TokenRequest {
        title: "Friday jam".into(),
        ppv_price: None,
        resume_stream_id: None,
        scheduled_stream_id: None,
    }
}

#[tokio::test]
async fn two_503s_then_200_is_live_after_the_third_attempt() {
    let (url, seen) = stand_in(vec![
        (503, vec![], DOWN),
        (503, vec![], DOWN),
        (200, vec![], TOKEN),
    ])
    .await;
    let token = client(&url).publisher_token(&request()).await.unwrap();
    assert_eq!(token.stream_id, 7);
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn three_failures_give_a_server_error_after_exactly_three_attempts() {
    let (url, seen) = stand_in(vec![(503, vec![], DOWN)]).await;
    let err = client(&url).publisher_token(&request()).await.unwrap_err();
    assert_eq!(err.kind(), "server");
    assert!(err.to_string().contains("database locked"), "{err}");
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_401_is_one_attempt_and_an_auth_error() {
    let (url, seen) = stand_in(vec![(
        401,
        vec![],
        r#"{"error":{"kind":"unauthorized","message":"no"}}"#,
    )])
    .await;
    let err = client(&url).publisher_token(&request()).await.unwrap_err();
    assert_eq!(err, BackendError::Auth);
    assert!(err.to_string().contains("sign in again"));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_400_names_the_field_and_is_not_retried() {
    let (url, seen) = stand_in(vec![(
        400,
        vec![],
        r#"{"error":{"kind":"invalid","message":"the title is empty","field":"title"}}"#,
    )])
    .await;
    let err = client(&url).publisher_token(&request()).await.unwrap_err();
    assert_eq!(err.kind(), "validation");
    assert!(matches!(&err, BackendError::Invalid { field: Some(f), .. } if f == "title"));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let (url, seen) = stand_in(vec![
        (429, vec![("retry-after", "1")], "{}"),
        (200, vec![], TOKEN),
    ])
    .await;
    let started = Instant::now();
    client(&url).publisher_token(&request()).await.unwrap();
    let waited = started.elapsed();
    println!("waited {waited:?} for a Retry-After of 1 s");
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_backend_is_a_network_error_that_names_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&url).publisher_token(&request()).await.unwrap_err();
    assert_eq!(err.kind(), "network");
    assert!(err.to_string().contains(&url), "{err}");
}
