//! The chat and its moderation through the backend's router, over a real SQLite file: a
//! streamer put on air the way LiveKit's webhook does it, viewers told apart by their device
//! cookies and (through a trusted proxy) their addresses. LiveKit's side of a ban (removing
//! participants) is in the end-to-end tests, with a real livekit-server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use onair_server::{app, db, keys, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY_SECRET: &str = "key-secret";

struct Fixture {
    state: AppState,
    key: String,
    _dir: tempfile::TempDir,
}

/// alice on air; requests through a trusted proxy at 127.0.0.1.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("onair.db").display());
    let pool = db::open(&url).await.unwrap();
    let key = keys::generate();
    db::add_streamer(&pool, "alice", &keys::hash(KEY_SECRET.as_bytes(), &key), 0)
        .await
        .unwrap()
        .unwrap();
    let mut config = Config::new(
        &url,
        // Nothing listens here: LiveKit calls fail fast and are only logged by these paths.
        "ws://127.0.0.1:9",
        "lk-key",
        "lk-secret-of-at-least-thirty-two-characters",
        KEY_SECRET,
    );
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let state = AppState::new(config, pool);
    state.hub.go_live("alice", "PA_alice").await.unwrap();
    Fixture {
        state,
        key,
        _dir: dir,
    }
}

/// A browser: its cookie (once the backend set one) and the address it comes from.
#[derive(Clone)]
struct Browser {
    cookie: Option<String>,
    address: &'static str,
}

impl Browser {
    fn at(address: &'static str) -> Self {
        Self {
            cookie: None,
            address,
        }
    }
}

struct Answer {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl Fixture {
    fn request(
        &self,
        method: &str,
        path: &str,
        browser: Option<&Browser>,
    ) -> axum::http::request::Builder {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(b) = browser {
            builder = builder.header("x-forwarded-for", b.address);
            if let Some(cookie) = &b.cookie {
                builder = builder.header(header::COOKIE, cookie);
            }
        }
        builder
    }

    async fn send(&self, request: Request<Body>, browser: Option<&mut Browser>) -> Answer {
        let mut request = request;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        if let (Some(b), Some(set)) = (browser, response.headers().get(header::SET_COOKIE)) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            b.cookie = Some(pair);
        }
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().parse().unwrap());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer {
            status,
            body,
            retry_after,
        }
    }

    async fn say(&self, browser: &mut Browser, name: &str, text: &str) -> Answer {
        let request = self
            .request("POST", "/api/streams/alice/chat", Some(&*browser))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"name": name, "text": text}).to_string()))
            .unwrap();
        self.send(request, Some(browser)).await
    }

    async fn creator(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let request = self
            .request(method, path, None)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        self.send(request, None).await
    }

    async fn history(&self) -> Vec<Value> {
        let request = self
            .request("GET", "/api/streams/alice/chat", None)
            .body(Body::empty())
            .unwrap();
        self.send(request, None)
            .await
            .body
            .as_array()
            .unwrap()
            .clone()
    }

    async fn viewer_token(&self, browser: &mut Browser) -> Answer {
        let request = self
            .request("POST", "/api/streams/alice/viewer-token", Some(&*browser))
            .body(Body::empty())
            .unwrap();
        self.send(request, Some(browser)).await
    }

    /// The chat's event stream for `browser`, resuming after `last_event_id`.
    async fn open_chat(&self, browser: &Browser, last_event_id: Option<i64>) -> Events {
        let mut request = self
            .request("GET", "/api/streams/alice/chat/events", Some(browser))
            .body(Body::empty())
            .unwrap();
        if let Some(id) = last_event_id {
            request
                .headers_mut()
                .insert("last-event-id", id.to_string().parse().unwrap());
        }
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        Events {
            body: response.into_body(),
            buffer: String::new(),
        }
    }
}

/// A server-sent event: its name, id and JSON data.
#[derive(Debug, Clone)]
struct Sse {
    event: String,
    id: Option<i64>,
    data: Value,
}

struct Events {
    body: Body,
    buffer: String,
}

impl Events {
    /// The next event (heartbeat comments skipped), within `limit`.
    async fn next(&mut self, limit: Duration) -> Option<Sse> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue;
                }
                let data = serde_json::from_str(&data).unwrap_or(Value::Null);
                return Some(Sse { event, id, data });
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let frame = tokio::time::timeout(left, self.body.frame()).await.ok()??;
            if let Ok(bytes) = frame.unwrap().into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }

    /// Events until one named `name`, within `limit`; the events before it are returned too.
    async fn until(&mut self, name: &str, limit: Duration) -> Vec<Sse> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(event) = self.next(left).await else {
                break;
            };
            let done = event.event == name;
            seen.push(event);
            if done {
                return seen;
            }
        }
        panic!("no {name} event within {limit:?}; saw {seen:?}");
    }
}

const SOON: Duration = Duration::from_secs(5);

fn texts(events: &[Sse]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event == "message")
        .map(|e| e.data["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_message_reaches_every_open_chat_and_stays_in_history() {
    let f = fixture().await;
    let mut a = Browser::at("203.0.113.1");
    let b = Browser::at("203.0.113.2");
    let mut b_chat = f.open_chat(&b, None).await;
    let greeting = b_chat.until("standing", SOON).await;
    assert_eq!(greeting[0].event, "mode");
    assert_eq!(greeting[1].data["state"], "welcome");

    let sent = f.say(&mut a, "night_owl", "  hello from Lisbon ").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert_eq!(sent.body["text"], "hello from Lisbon");
    assert!(a.cookie.as_deref().unwrap().starts_with("onair_device="));

    let got = b_chat.until("message", SOON).await;
    let message = got.last().unwrap();
    assert_eq!(message.data["name"], "night_owl");
    assert_eq!(message.id, sent.body["id"].as_i64());
    let history = f.history().await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["text"], "hello from Lisbon");
}

#[tokio::test]
async fn a_chat_resumed_with_its_last_event_id_is_sent_exactly_what_it_missed() {
    let f = fixture().await;
    let mut a = Browser::at("203.0.113.1");
    let b = Browser::at("203.0.113.2");
    let first = f.say(&mut a, "night_owl", "one").await.body["id"]
        .as_i64()
        .unwrap();
    let mut missed = Vec::new();
    for text in ["two", "three"] {
        missed.push(
            f.say(&mut a, "night_owl", text).await.body["id"]
                .as_i64()
                .unwrap(),
        );
    }
    // "two" is hidden while b is away: b must not be shown it, and is told of the hide.
    let hidden = f
        .creator(
            "POST",
            &format!("/api/chat/messages/{}/hide", missed[0]),
            None,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NO_CONTENT);
    let four = f.say(&mut a, "night_owl", "four").await.body["id"]
        .as_i64()
        .unwrap();

    let mut resumed = f.open_chat(&b, Some(first)).await;
    let mut events = resumed.until("message", SOON).await;
    while events.iter().filter(|e| e.id == Some(four)).count() == 0 {
        events.extend(resumed.until("message", SOON).await);
    }
    assert_eq!(texts(&events), ["three", "four"]);
    assert!(events.iter().all(|e| e.id.is_none_or(|id| id > first)));
    assert!(events
        .iter()
        .any(|e| e.event == "hidden" && e.data["message_id"] == missed[0]));
}

#[tokio::test]
async fn a_hidden_message_leaves_every_open_chat_and_history() {
    let f = fixture().await;
    let mut a = Browser::at("203.0.113.1");
    let mut b_chat = f.open_chat(&Browser::at("203.0.113.2"), None).await;
    let id = f.say(&mut a, "night_owl", "oops").await.body["id"]
        .as_i64()
        .unwrap();
    b_chat.until("message", SOON).await;
    let hide = f
        .creator("POST", &format!("/api/chat/messages/{id}/hide"), None)
        .await;
    assert_eq!(hide.status, StatusCode::NO_CONTENT);
    let hidden = b_chat.until("hidden", SOON).await;
    assert_eq!(hidden.last().unwrap().data["message_id"], id);
    assert!(f.history().await.is_empty());
    // Hiding again changes nothing and says so the same way.
    let again = f
        .creator("POST", &format!("/api/chat/messages/{id}/hide"), None)
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_timed_out_chatter_is_refused_with_a_retry_time_until_it_ends() {
    let f = fixture().await;
    let mut a = Browser::at("203.0.113.1");
    let id = f.say(&mut a, "night_owl", "spam").await.body["id"]
        .as_i64()
        .unwrap();
    let mut a_chat = f.open_chat(&a, None).await;
    a_chat.until("standing", SOON).await;
    let timeout = f
        .creator(
            "POST",
            "/api/chat/timeouts",
            Some(json!({"message_id": id, "seconds": 2})),
        )
        .await;
    assert_eq!(timeout.status, StatusCode::OK, "{}", timeout.body);
    assert_eq!(timeout.body["state"], "timed_out");
    let told = a_chat.until("standing", SOON).await;
    assert_eq!(told.last().unwrap().data["state"], "timed_out");

    let refused = f.say(&mut a, "night_owl", "again").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["error"]["kind"], "timed_out");
    let wait = refused.retry_after.expect("Retry-After");
    assert!((1..=2).contains(&wait), "{wait}");
    assert_eq!(refused.body["error"]["retry_after_s"], wait);

    // Retry-After is honest: waiting that long is enough.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let back = f.say(&mut a, "night_owl", "back").await;
    assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
}

#[tokio::test]
async fn a_ban_refuses_the_device_and_its_address_a_chat_and_a_viewer_token() {
    let f = fixture().await;
    let mut a = Browser::at("203.0.113.1");
    assert_eq!(f.viewer_token(&mut a).await.status, StatusCode::OK);
    let id = f.say(&mut a, "troll", "buy followers").await.body["id"]
        .as_i64()
        .unwrap();
    let mut a_chat = f.open_chat(&a, None).await;
    a_chat.until("standing", SOON).await;

    let ban = f
        .creator(
            "POST",
            "/api/chat/bans",
            Some(json!({"message_id": id, "reason": "spam"})),
        )
        .await;
    assert_eq!(ban.status, StatusCode::CREATED, "{}", ban.body);
    assert_eq!(ban.body["ban"]["address"], true);
    let told = a_chat.until("standing", SOON).await;
    assert_eq!(told.last().unwrap().data["state"], "banned");

    let chat = f.say(&mut a, "troll", "hello?").await;
    assert_eq!(
        (chat.status, chat.body["error"]["kind"].as_str()),
        (StatusCode::FORBIDDEN, Some("banned"))
    );
    let token = f.viewer_token(&mut a).await;
    assert_eq!(
        (token.status, token.body["error"]["kind"].as_str()),
        (StatusCode::FORBIDDEN, Some("banned"))
    );
    // A cleared cookie from the same address is still banned.
    let mut fresh = Browser::at("203.0.113.1");
    let token = f.viewer_token(&mut fresh).await;
    assert_eq!(token.body["error"]["kind"], "banned", "{}", token.body);
    // Someone else is not.
    let mut other = Browser::at("203.0.113.9");
    assert_eq!(f.viewer_token(&mut other).await.status, StatusCode::OK);

    let bans = f.creator("GET", "/api/chat/bans", None).await;
    let ban_id = bans.body[0]["id"].as_i64().unwrap();
    assert_eq!(bans.body[0]["name"], "troll");
    let lifted = f
        .creator("DELETE", &format!("/api/chat/bans/{ban_id}"), None)
        .await;
    assert_eq!(lifted.status, StatusCode::NO_CONTENT);
    assert_eq!(f.viewer_token(&mut a).await.status, StatusCode::OK);
    let log = f.creator("GET", "/api/chat/log", None).await;
    let actions: Vec<&str> = log
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["unban", "ban"]);
}

#[tokio::test]
async fn a_ban_of_a_viewer_behind_a_shared_address_bans_the_device_only() {
    let f = fixture().await;
    // Straight from loopback (no forwarded address): shared by every local viewer.
    let mut a = Browser::at("127.0.0.1");
    let id = f.say(&mut a, "troll", "hi").await.body["id"]
        .as_i64()
        .unwrap();
    let ban = f
        .creator("POST", "/api/chat/bans", Some(json!({"message_id": id})))
        .await;
    assert_eq!(ban.body["ban"]["address"], false, "{}", ban.body);
    assert_eq!(f.viewer_token(&mut a).await.body["error"]["kind"], "banned");
    let mut neighbour = Browser::at("127.0.0.1");
    assert_eq!(f.viewer_token(&mut neighbour).await.status, StatusCode::OK);
}

#[tokio::test]
async fn slow_mode_blocked_terms_and_established_only_refuse_with_their_kinds() {
    let f = fixture().await;
    let settings = f
        .creator(
            "PUT",
            "/api/chat/settings",
            Some(json!({"slow_mode_secs": 30, "blocked_terms": [" Free Followers "]})),
        )
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    assert_eq!(settings.body["blocked_terms"], json!(["free followers"]));

    let mut b_chat = f.open_chat(&Browser::at("203.0.113.2"), None).await;
    b_chat.until("standing", SOON).await;
    let mut a = Browser::at("203.0.113.1");
    let blocked = f.say(&mut a, "night_owl", "get FREE followers now").await;
    assert_eq!(
        (blocked.status, blocked.body["error"]["kind"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("blocked_term"))
    );
    assert_eq!(
        f.say(&mut a, "night_owl", "first").await.status,
        StatusCode::CREATED
    );
    let slow = f.say(&mut a, "night_owl", "second").await;
    assert_eq!(
        (slow.status, slow.body["error"]["kind"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("slow_mode"))
    );
    assert!(
        (29..=30).contains(&slow.retry_after.unwrap()),
        "{:?}",
        slow.retry_after
    );
    // b received the one message that passed, and nothing refused.
    let seen = b_chat.until("message", SOON).await;
    assert_eq!(texts(&seen), ["first"]);
    assert!(b_chat
        .next(Duration::from_millis(300))
        .await
        .is_none_or(|e| e.event != "message"));

    f.creator(
        "PUT",
        "/api/chat/settings",
        Some(json!({"established_minutes": 10})),
    )
    .await;
    let mut newcomer = Browser::at("203.0.113.7");
    assert_eq!(f.viewer_token(&mut newcomer).await.status, StatusCode::OK);
    let too_new = f.say(&mut newcomer, "newbie", "hi").await;
    assert_eq!(
        (too_new.status, too_new.body["error"]["kind"].as_str()),
        (StatusCode::FORBIDDEN, Some("too_new"))
    );
    assert!(too_new.retry_after.unwrap() > 590);
}

#[tokio::test]
async fn bad_messages_and_names_are_refused_by_field_and_nothing_is_stored_or_sent() {
    let f = fixture().await;
    let mut b_chat = f.open_chat(&Browser::at("203.0.113.2"), None).await;
    b_chat.until("standing", SOON).await;
    let mut a = Browser::at("203.0.113.1");
    for (name, text, status, kind, field) in [
        (
            "night_owl",
            "   ",
            StatusCode::BAD_REQUEST,
            "invalid",
            Some("text"),
        ),
        (
            "night_owl",
            &"x".repeat(501),
            StatusCode::BAD_REQUEST,
            "invalid",
            Some("text"),
        ),
        (
            "night_owl",
            "bell\u{7}",
            StatusCode::BAD_REQUEST,
            "invalid",
            Some("text"),
        ),
        (
            "no spaces",
            "hi",
            StatusCode::BAD_REQUEST,
            "invalid",
            Some("name"),
        ),
        (
            "Alice",
            "hi, I am the creator",
            StatusCode::BAD_REQUEST,
            "invalid",
            Some("name"),
        ),
    ] {
        let answer = f.say(&mut a, name, text).await;
        assert_eq!(answer.status, status, "{name:?} {text:?}: {}", answer.body);
        assert_eq!(answer.body["error"]["kind"], kind);
        assert_eq!(answer.body["error"]["field"].as_str(), field);
    }
    assert_eq!(
        f.say(&mut a, "night_owl", "hi").await.status,
        StatusCode::CREATED
    );
    let mut c = Browser::at("203.0.113.3");
    let taken = f.say(&mut c, "NIGHT_OWL", "me too").await;
    assert_eq!(
        (taken.status, taken.body["error"]["kind"].as_str()),
        (StatusCode::CONFLICT, Some("name_taken"))
    );
    assert_eq!(f.history().await.len(), 1);
    let seen = b_chat.until("message", SOON).await;
    assert_eq!(texts(&seen), ["hi"]);
}

#[tokio::test]
async fn markup_is_kept_as_text() {
    let f = fixture().await;
    let mut a = Browser::at("203.0.113.1");
    let text = "<script>alert(1)</script>";
    assert_eq!(f.say(&mut a, "night_owl", text).await.body["text"], text);
    assert_eq!(f.history().await[0]["text"], text);
}

#[tokio::test]
async fn a_chat_is_closed_while_the_streamer_is_offline() {
    let f = fixture().await;
    f.state.hub.end("alice", "ended_by_creator").await.unwrap();
    let mut a = Browser::at("203.0.113.1");
    let answer = f.say(&mut a, "night_owl", "anyone?").await;
    assert_eq!(
        (answer.status, answer.body["error"]["kind"].as_str()),
        (StatusCode::CONFLICT, Some("offline"))
    );
}

#[tokio::test]
async fn one_browser_flooding_the_chat_is_limited_with_a_retry_time() {
    let f = fixture().await;
    let mut a = Browser::at("203.0.113.1");
    let mut answers = Vec::new();
    for n in 0..6 {
        answers.push(f.say(&mut a, "night_owl", &format!("msg {n}")).await);
    }
    let statuses: Vec<StatusCode> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses[..5], [StatusCode::CREATED; 5]);
    assert_eq!(answers[5].status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answers[5].body["error"]["kind"], "rate_limited");
    assert!(answers[5].retry_after.is_some());
    // Another browser at the same address is not held back.
    let mut b = Browser::at("203.0.113.1");
    assert_eq!(
        f.say(&mut b, "early_bird", "hi").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn moderation_needs_the_streamers_key_and_a_message_of_their_own_chat() {
    let f = fixture().await;
    let request = f
        .request("POST", "/api/chat/bans", None)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"message_id": 1}"#))
        .unwrap();
    assert_eq!(f.send(request, None).await.status, StatusCode::UNAUTHORIZED);
    let missing = f
        .creator(
            "POST",
            "/api/chat/timeouts",
            Some(json!({"message_id": 999, "seconds": 5})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = f
        .creator(
            "POST",
            "/api/chat/timeouts",
            Some(json!({"message_id": 1, "seconds": 0})),
        )
        .await;
    assert_eq!(bad.body["error"]["field"], "seconds");
}

#[tokio::test]
async fn a_chat_opened_is_told_where_history_ends_and_news_begins() {
    let f = fixture().await;
    let mut a = Browser::at("203.0.113.1");
    let b = Browser::at("203.0.113.2");
    f.say(&mut a, "night_owl", "before you came").await;
    let mut b_chat = f.open_chat(&b, None).await;
    let opening = b_chat.until("ready", SOON).await;
    assert_eq!(texts(&opening), ["before you came"]);
    f.say(&mut a, "night_owl", "after you came").await;
    let news = b_chat.until("message", SOON).await;
    assert_eq!(texts(&news), ["after you came"]);
}
