//! The publisher token endpoint and streamer management, over a real SQLite file.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use livekit_api::access_token::TokenVerifier;
use onair_server::{app, db, keys, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

const LK_KEY: &str = "lk-key";
const LK_SECRET: &str = "lk-secret-of-at-least-thirty-two-characters";
const KEY_SECRET: &str = "key-secret";

struct Fixture {
    state: AppState,
    key: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("onair.db").display());
    let pool = db::open(&url).await.unwrap();
    let key = keys::generate();
    db::add_streamer(&pool, "alice", &keys::hash(KEY_SECRET.as_bytes(), &key), 0)
        .await
        .unwrap()
        .unwrap();
    let config = Config::new(&url, "ws://127.0.0.1:7880", LK_KEY, LK_SECRET, KEY_SECRET);
    Fixture {
        state: AppState::new(config, pool),
        key,
        _dir: dir,
    }
}

async fn post_token(f: &Fixture, auth: Option<&str>, body: &str) -> (StatusCode, Value) {
    post(f, "/api/streams/token", auth, body.to_owned()).await
}

#[tokio::test]
async fn a_streamer_key_gets_a_publish_only_token_for_its_own_room() {
    let f = fixture().await;
    let bearer = format!("Bearer {}", f.key);
    let (status, body) = post_token(
        &f,
        Some(&bearer),
        r#"{"title": "  Friday jam ", "ppv_price": 4.99}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room"], "alice");
    assert_eq!(body["url"], "ws://127.0.0.1:7880");
    let claims = TokenVerifier::with_api_key(LK_KEY, LK_SECRET)
        .verify(body["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.sub, "creator-alice");
    assert!(claims.video.room_join);
    assert_eq!(claims.video.room, "alice");
    assert_eq!(claims.video.can_publish, Some(true));
    assert_eq!(claims.video.can_subscribe, Some(false));
    assert_eq!(claims.video.can_publish_data, Some(false));
    assert!(!claims.video.room_admin && !claims.video.room_create && !claims.video.room_list);
    let (title, price): (String, Option<i64>) =
        sqlx::query_as("SELECT title, ppv_price_cents FROM streams WHERE id = ?")
            .bind(body["stream_id"].as_i64().unwrap())
            .fetch_one(&f.state.db)
            .await
            .unwrap();
    assert_eq!((title.as_str(), price), ("Friday jam", Some(499)));
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_unauthorized() {
    let f = fixture().await;
    for auth in [
        None,
        Some("Bearer onair_wrong"),
        Some(f.key.as_str()),
        Some("Bearer "),
    ] {
        let (status, body) = post_token(&f, auth, r#"{"title": "x"}"#).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}: {body}");
        assert_eq!(body["error"]["kind"], "unauthorized");
    }
}

#[tokio::test]
async fn me_names_the_key_s_streamer_and_refuses_a_wrong_key() {
    let f = fixture().await;
    let get = |auth: String| {
        let request = Request::get("/api/me")
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap();
        let app = app(f.state.clone());
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (status, body) = get(format!("Bearer {}", f.key)).await;
    assert_eq!(
        (status, body["username"].as_str()),
        (StatusCode::OK, Some("alice"))
    );
    let (status, body) = get("Bearer onair_wrong".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["kind"], "unauthorized");
}

#[tokio::test]
async fn bad_fields_are_refused_by_name_and_nothing_is_stored() {
    let f = fixture().await;
    let bearer = format!("Bearer {}", f.key);
    for (body, field) in [
        (json!({"title": " "}), "title"),
        (json!({"title": "a\nb"}), "title"),
        (json!({"title": "x".repeat(101)}), "title"),
        (json!({"title": "ok", "ppv_price": 1000}), "ppv_price"),
        (json!({"title": "ok", "ppv_price": 4.999}), "ppv_price"),
        (json!({"title": "ok", "ppv_price": -1}), "ppv_price"),
        (json!({"title": "ok", "ppv_price": "free"}), "ppv_price"),
        (json!({"title": "ok", "ppv_price": true}), "ppv_price"),
    ] {
        let (status, answer) = post_token(&f, Some(&bearer), &body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["kind"], "invalid", "{body}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, answer) = post_token(&f, Some(&bearer), "{not json").await;
    assert_eq!(
        (status, answer["error"]["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (streams,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM streams")
        .fetch_one(&f.state.db)
        .await
        .unwrap();
    assert_eq!(streams, 0);
}

#[test]
fn streamer_add_prints_a_key_once_and_refuses_bad_or_taken_names() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_onair-server"))
            .args(["streamer", "add", name])
            .env(
                "ONAIR_DATABASE_URL",
                format!("sqlite://{}", dir.path().join("db.sqlite").display()),
            )
            .env("LIVEKIT_API_KEY", LK_KEY)
            .env("LIVEKIT_API_SECRET", LK_SECRET)
            .env("ONAIR_KEY_SECRET", KEY_SECRET)
            .output()
            .unwrap()
    };
    let first = run("bob_42");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let key = String::from_utf8(first.stdout).unwrap();
    assert!(key.trim().starts_with("onair_"), "{key}");
    let again = run("bob_42");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("taken"));
    let bad = run("no spaces");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("username"));
}

async fn post(f: &Fixture, path: &str, auth: Option<&str>, body: String) -> (StatusCode, Value) {
    let mut request = Request::post(path);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = app(f.state.clone())
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A webhook signed the way livekit-server signs them.
fn signed(event: &Value) -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let body = event.to_string();
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body));
    let jwt = livekit_api::access_token::AccessToken::with_api_key(LK_KEY, LK_SECRET)
        .with_sha256(&hash)
        .to_jwt()
        .unwrap();
    (body, jwt)
}

#[tokio::test]
async fn a_viewer_token_needs_a_known_streamer_who_is_live() {
    let f = fixture().await;
    let (status, body) = post(&f, "/api/streams/nobody/viewer-token", None, String::new()).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = post(&f, "/api/streams/a%20b/viewer-token", None, String::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "username");
    let (status, body) = post(&f, "/api/streams/alice/viewer-token", None, String::new()).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (StatusCode::CONFLICT, Some("offline"))
    );
}

#[tokio::test]
async fn once_the_creator_is_on_air_viewers_get_subscribe_only_tokens_with_fresh_identities() {
    let f = fixture().await;
    let (body, jwt) = signed(&json!({
        "event": "participant_joined",
        "id": "EV_creator",
        "createdAt": "1700000000",
        "room": {"name": "alice"},
        "participant": {"sid": "PA_c", "identity": "creator-alice", "state": "ACTIVE"}
    }));
    let (status, answer) = post(&f, "/api/livekit/webhook", Some(&jwt), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let mut identities = Vec::new();
    for _ in 0..2 {
        let (status, body) = post(&f, "/api/streams/alice/viewer-token", None, String::new()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let claims = TokenVerifier::with_api_key(LK_KEY, LK_SECRET)
            .verify(body["token"].as_str().unwrap())
            .unwrap();
        assert_eq!(claims.video.room, "alice");
        assert!(claims.video.room_join);
        assert_eq!(claims.video.can_subscribe, Some(true));
        assert_eq!(claims.video.can_publish, Some(false));
        assert_eq!(claims.video.can_publish_data, Some(false));
        assert!(!claims.video.room_admin && !claims.video.room_create && !claims.video.room_list);
        assert!(claims.sub.starts_with("viewer-") && claims.sub != "creator-alice");
        identities.push(claims.sub);
    }
    assert_ne!(identities[0], identities[1]);
}

#[tokio::test]
async fn an_unsigned_or_tampered_webhook_is_refused_and_changes_nothing() {
    let f = fixture().await;
    let event = json!({
        "event": "participant_joined", "id": "EV_x", "room": {"name": "alice"},
        "participant": {"sid": "PA_c", "identity": "creator-alice", "state": "ACTIVE"}
    });
    let (body, jwt) = signed(&event);
    let tampered = body.replace("EV_x", "EV_y");
    let (status, answer) = post(&f, "/api/livekit/webhook", Some(&jwt), tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let (status, _) = post(&f, "/api/livekit/webhook", None, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(&f, "/api/streams/alice/viewer-token", None, String::new()).await;
    assert_eq!(status, StatusCode::CONFLICT, "still offline");
}

fn creator_event(name: &str, id: &str, sid: &str) -> Value {
    json!({
        "event": name, "id": id, "room": {"name": "alice", "sid": "RM_1"},
        "participant": {"sid": sid, "identity": "creator-alice", "state": "ACTIVE",
                        "disconnectReason": "CLIENT_INITIATED"}
    })
}

async fn webhook(f: &Fixture, event: Value) {
    let (body, jwt) = signed(&event);
    let (status, answer) = post(f, "/api/livekit/webhook", Some(&jwt), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn on_air(f: &Fixture) -> bool {
    let (status, _) = post(f, "/api/streams/alice/viewer-token", None, String::new()).await;
    status == StatusCode::OK
}

#[tokio::test]
async fn a_late_webhook_of_an_earlier_creator_session_does_not_end_or_restart_the_stream() {
    let f = fixture().await;
    webhook(&f, creator_event("participant_joined", "EV_1", "PA_1")).await;
    assert!(on_air(&f).await);
    // The creator reconnects as a new session; the old one's leave arrives afterwards.
    webhook(&f, creator_event("participant_joined", "EV_2", "PA_2")).await;
    webhook(&f, creator_event("participant_left", "EV_3", "PA_1")).await;
    assert!(
        on_air(&f).await,
        "an earlier session leaving does not end the stream"
    );
    webhook(&f, creator_event("participant_left", "EV_4", "PA_2")).await;
    assert!(!on_air(&f).await, "the session on air leaving ends it");
    // A join that arrives after its own leave is stale.
    webhook(&f, creator_event("participant_joined", "EV_1b", "PA_2")).await;
    assert!(
        !on_air(&f).await,
        "a late join does not put the creator back on air"
    );
}

#[tokio::test]
async fn a_rejoin_token_continues_the_open_stream_and_an_ended_one_starts_afresh() {
    let f = fixture().await;
    let bearer = format!("Bearer {}", f.key);
    let (_, first) = post_token(&f, Some(&bearer), r#"{"title": "Jam"}"#).await;
    let id = first["stream_id"].as_i64().unwrap();
    let body = format!(r#"{{"title": "Jam", "resume_stream_id": {id}}}"#);
    let (status, again) = post_token(&f, Some(&bearer), &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["stream_id"].as_i64(), Some(id), "same record");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM streams")
        .fetch_one(&f.state.db)
        .await
        .unwrap();
    assert_eq!(count, 1, "no second record for a rejoin");

    sqlx::query("UPDATE streams SET ended_at = 1 WHERE id = ?")
        .bind(id)
        .execute(&f.state.db)
        .await
        .unwrap();
    let (_, after_end) = post_token(&f, Some(&bearer), &body).await;
    assert_ne!(
        after_end["stream_id"].as_i64(),
        Some(id),
        "an ended stream is not reopened"
    );
    let unknown = r#"{"title": "Jam", "resume_stream_id": 999999}"#;
    let (status, fresh) = post_token(&f, Some(&bearer), unknown).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(fresh["stream_id"].as_i64(), Some(999999));
}
