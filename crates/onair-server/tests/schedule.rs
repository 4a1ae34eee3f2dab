//! Scheduled streams through the backend's router, over a real SQLite file: planning with
//! every field checked, changes and calling off seen in the calendar feed, Go Live taking a
//! stream over (on air the way LiveKit's webhook puts it there), missed streams, and tickets
//! sold in advance and refunded (development payments). The calendar read by a real
//! iCalendar parser, the viewer page and the studio are in the end-to-end tests.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use onair_server::{app, db, keys, live, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY_SECRET: &str = "key-secret";
const MINUTE: i64 = 60_000;

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
    let config = Config::new(
        &url,
        // Nothing listens here: LiveKit calls fail fast and are only logged by these paths.
        "ws://127.0.0.1:9",
        "lk-key",
        "lk-secret-of-at-least-thirty-two-characters",
        KEY_SECRET,
    );
    Fixture {
        state: AppState::new(config, pool),
        key,
        _dir: dir,
    }
}

struct Answer {
    status: StatusCode,
    body: Value,
    text: String,
    content_type: String,
}

impl Fixture {
    async fn send(&self, method: &str, path: &str, auth: bool, body: Option<Value>) -> Answer {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "onair.test")
            .header(header::CONTENT_TYPE, "application/json");
        if auth {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {}", self.key));
        }
        let mut request = builder
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            text,
            content_type,
        }
    }

    async fn plan(&self, body: Value) -> Answer {
        self.send("POST", "/api/schedule", true, Some(body)).await
    }

    async fn schedule(&self) -> Vec<Value> {
        self.send("GET", "/api/schedule", true, None)
            .await
            .body
            .as_array()
            .unwrap()
            .clone()
    }

    async fn feed(&self) -> String {
        let answer = self
            .send("GET", "/live/alice/schedule.ics", false, None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert!(answer.content_type.starts_with("text/calendar"));
        answer.text.replace("\r\n ", "")
    }

    /// Go Live as the studio does it: a publisher token, then the creator's join.
    async fn go_live(&self, scheduled: Option<i64>) -> i64 {
        let mut body = json!({"title": "Going live"});
        if let Some(id) = scheduled {
            body["scheduled_stream_id"] = json!(id);
        }
        let token = self
            .send("POST", "/api/streams/token", true, Some(body))
            .await;
        assert_eq!(token.status, StatusCode::OK, "{}", token.body);
        self.state.hub.go_live("alice", "PA_1").await.unwrap();
        let on_air = self.state.hub.on_air("alice").await.unwrap();
        assert_eq!(on_air, token.body["stream_id"].as_i64().unwrap());
        on_air
    }
}

fn now() -> i64 {
    live::now_ms()
}

fn plan_at(starts_at: i64) -> Value {
    json!({
        "title": "Friday jam",
        "description": "Bring snacks, and friends; we play till late.",
        "starts_at": starts_at,
        "duration_minutes": 90,
    })
}

fn property<'a>(feed: &'a str, name: &str) -> Vec<&'a str> {
    feed.split("\r\n")
        .filter_map(|line| line.strip_prefix(name))
        .filter_map(|rest| rest.split_once(':').map(|(_, v)| v))
        .collect()
}

#[tokio::test]
async fn a_stream_planned_two_minutes_ahead_is_stored_and_listed_as_scheduled() {
    let f = fixture().await;
    let starts_at = now() + 2 * MINUTE;
    let answer = f.plan(plan_at(starts_at)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(answer.body["state"], "scheduled");
    // Kept in whole seconds, as a calendar keeps it.
    assert_eq!(answer.body["starts_at"], starts_at - starts_at % 1000);
    assert_eq!(answer.body["sequence"], 0);
    assert_eq!(answer.body["username"], "alice");

    let listed = f.schedule().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], answer.body["id"]);
    let public = f
        .send("GET", "/api/streams/alice/schedule", false, None)
        .await;
    assert_eq!(public.body.as_array().unwrap().len(), 1);
    let everyone = f.send("GET", "/api/schedule/upcoming", false, None).await;
    assert_eq!(everyone.body[0]["id"], answer.body["id"]);
    let status = f.send("GET", "/api/streams/alice", false, None).await;
    assert_eq!(status.body["live"], false);
    assert_eq!(status.body["next_scheduled"]["id"], answer.body["id"]);
}

#[tokio::test]
async fn each_wrong_field_is_refused_by_name_and_nothing_is_stored() {
    let f = fixture().await;
    let soon = now() + 2 * MINUTE;
    let cases = [
        ("starts_at", json!({"starts_at": now() - MINUTE})),
        (
            "starts_at",
            json!({"starts_at": now() + 2 * 366 * 24 * 60 * MINUTE}),
        ),
        ("duration_minutes", json!({"duration_minutes": 0})),
        ("duration_minutes", json!({"duration_minutes": 721})),
        ("title", json!({"title": "x".repeat(101)})),
        ("title", json!({"title": "  "})),
        ("ppv_price", json!({"ppv_price": 1000})),
        ("ppv_price", json!({"ppv_price": "4.999"})),
        ("description", json!({"description": "x".repeat(2001)})),
    ];
    for (field, change) in cases {
        let mut body = plan_at(soon);
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = f.plan(body).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{field}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"]["kind"], "invalid");
        assert_eq!(answer.body["error"]["field"], field, "{}", answer.body);
    }
    let not_json = f
        .send("POST", "/api/schedule", true, Some(json!("not an object")))
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    let anonymous = f
        .send("POST", "/api/schedule", false, Some(plan_at(soon)))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(f.schedule().await.is_empty());
}

#[tokio::test]
async fn the_fifty_first_upcoming_stream_is_refused() {
    let f = fixture().await;
    for i in 0..50 {
        let answer = f.plan(plan_at(now() + (i + 2) * MINUTE)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{i}: {}", answer.body);
    }
    let answer = f.plan(plan_at(now() + 60 * MINUTE)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("50 upcoming"));
    assert_eq!(f.schedule().await.len(), 50);
}

#[tokio::test]
async fn an_edit_raises_the_sequence_under_the_same_uid_and_a_cancel_publishes_it_cancelled() {
    let f = fixture().await;
    let created = f.plan(plan_at(now() + 10 * MINUTE)).await.body;
    let id = created["id"].as_i64().unwrap();
    let feed = f.feed().await;
    let uid = property(&feed, "UID")[0].to_owned();
    assert_eq!(uid, format!("stream-{id}@onair.test"));
    assert_eq!(property(&feed, "SEQUENCE"), ["0"]);
    assert_eq!(property(&feed, "STATUS"), ["CONFIRMED"]);
    assert!(property(&feed, "SUMMARY")[0].contains("Friday jam"));

    let mut changed = plan_at(now() + 20 * MINUTE);
    changed["title"] = json!("Saturday jam");
    let edited = f
        .send("PUT", &format!("/api/schedule/{id}"), true, Some(changed))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["sequence"], 1);
    let feed = f.feed().await;
    assert_eq!(property(&feed, "UID"), [uid.as_str()]);
    assert_eq!(property(&feed, "SEQUENCE"), ["1"]);
    assert!(property(&feed, "SUMMARY")[0].contains("Saturday jam"));

    let single = f
        .send(
            "GET",
            &format!("/live/alice/schedule/{id}.ics"),
            false,
            None,
        )
        .await;
    assert_eq!(single.status, StatusCode::OK);
    assert_eq!(
        property(&single.text.replace("\r\n ", ""), "UID"),
        [uid.as_str()]
    );

    let cancelled = f
        .send("DELETE", &format!("/api/schedule/{id}"), true, None)
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["stream"]["state"], "cancelled");
    assert_eq!(cancelled.body["refunded_tickets"], 0);
    let feed = f.feed().await;
    assert_eq!(property(&feed, "UID"), [uid.as_str()]);
    assert_eq!(property(&feed, "STATUS"), ["CANCELLED"]);
    assert_eq!(property(&feed, "SEQUENCE"), ["2"]);

    let again = f
        .send(
            "PUT",
            &format!("/api/schedule/{id}"),
            true,
            Some(plan_at(now() + 30 * MINUTE)),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["error"]["kind"], "not_upcoming");
    let unknown = f.send("DELETE", "/api/schedule/999", true, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = f
        .send("GET", "/live/alice/schedule/abc.ics", false, None)
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn go_live_near_the_start_takes_the_scheduled_stream_over_and_the_feed_gets_its_actual_times()
{
    let f = fixture().await;
    let planned = f.plan(plan_at(now() + 10 * MINUTE)).await.body;
    let id = planned["id"].as_i64().unwrap();

    let on_air = f.go_live(None).await;
    assert_eq!(on_air, id, "the live stream is the scheduled one");
    let listed = f.schedule().await;
    assert_eq!(listed[0]["state"], "live");
    let started = listed[0]["started_at"].as_i64().unwrap();

    let ended = f.send("POST", "/api/streams/end", true, None).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(ended.body["stream"]["id"], id);
    let listed = f.schedule().await;
    assert_eq!(listed[0]["state"], "ended");
    let ended_at = listed[0]["ended_at"].as_i64().unwrap();

    let feed = f.feed().await;
    let stamp = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y%m%dT%H%M%SZ")
            .to_string()
    };
    assert_eq!(property(&feed, "DTSTART"), [stamp(started).as_str()]);
    assert_eq!(property(&feed, "DTEND"), [stamp(ended_at).as_str()]);
    assert_eq!(property(&feed, "STATUS"), ["CONFIRMED"]);
}

#[tokio::test]
async fn go_live_three_hours_early_is_a_separate_stream_and_the_scheduled_one_stays_upcoming() {
    let f = fixture().await;
    let planned = f.plan(plan_at(now() + 180 * MINUTE)).await.body;
    let on_air = f.go_live(None).await;
    assert_ne!(on_air, planned["id"].as_i64().unwrap());
    let listed = f.schedule().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "scheduled");

    f.send("POST", "/api/streams/end", true, None).await;
    assert_eq!(f.schedule().await[0]["state"], "scheduled");
}

#[tokio::test]
async fn the_studio_can_go_live_as_a_scheduled_stream_any_time_before_it() {
    let f = fixture().await;
    let planned = f.plan(plan_at(now() + 600 * MINUTE)).await.body;
    let id = planned["id"].as_i64().unwrap();
    assert_eq!(f.go_live(Some(id)).await, id);

    let unknown = f
        .send(
            "POST",
            "/api/streams/token",
            true,
            Some(json!({"title": "x", "scheduled_stream_id": 12345})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stream_nobody_started_within_the_grace_period_becomes_missed_in_the_api_and_the_feed() {
    let f = fixture().await;
    let planned = f.plan(plan_at(now() + 2 * MINUTE)).await.body;
    let id = planned["id"].as_i64().unwrap();
    // As if its start had passed an hour ago.
    sqlx::query("UPDATE streams SET scheduled_start = ? WHERE id = ?")
        .bind(now() - 60 * MINUTE)
        .bind(id)
        .execute(&f.state.db)
        .await
        .unwrap();
    assert_eq!(
        onair_server::schedule::mark_missed(&f.state, 2 * 60 * MINUTE)
            .await
            .unwrap(),
        0,
        "still within the default two hours"
    );
    assert_eq!(f.schedule().await[0]["state"], "scheduled");
    assert_eq!(
        onair_server::schedule::mark_missed(&f.state, 30 * MINUTE)
            .await
            .unwrap(),
        1
    );
    let listed = f.schedule().await;
    assert_eq!(listed[0]["state"], "missed");
    assert_eq!(listed[0]["sequence"], 1);
    let feed = f.feed().await;
    assert_eq!(property(&feed, "STATUS"), ["CANCELLED"]);
    assert!(property(&feed, "DESCRIPTION")[0].starts_with("This stream did not take place."));
    let status = f.send("GET", "/api/streams/alice", false, None).await;
    assert_eq!(status.body["next_scheduled"], Value::Null);
    // A missed stream is not taken over by a later Go Live.
    assert_ne!(f.go_live(None).await, id);
}

#[tokio::test]
async fn a_ticket_bought_in_advance_admits_its_holder_once_the_stream_is_live() {
    let f = fixture().await;
    let mut body = plan_at(now() + 5 * MINUTE);
    body["ppv_price"] = json!(4.99);
    let planned = f.plan(body).await.body;
    let id = planned["id"].as_i64().unwrap();

    let bought = f
        .send("POST", "/api/streams/alice/tickets", false, None)
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.body);
    assert_eq!(bought.body["stream_id"], id);
    assert_eq!(bought.body["payment"], "paid");
    let ticket = bought.body["id"].as_str().unwrap().to_owned();

    let offline = f
        .send(
            "POST",
            "/api/streams/alice/viewer-token",
            false,
            Some(json!({"ticket": ticket})),
        )
        .await;
    assert_eq!(offline.status, StatusCode::CONFLICT, "{}", offline.body);
    assert_eq!(offline.body["error"]["kind"], "offline");

    assert_eq!(f.go_live(None).await, id);
    let admitted = f
        .send(
            "POST",
            "/api/streams/alice/viewer-token",
            false,
            Some(json!({"ticket": ticket})),
        )
        .await;
    assert_eq!(admitted.status, StatusCode::OK, "{}", admitted.body);
}

#[tokio::test]
async fn cancelling_a_paid_scheduled_stream_refunds_its_tickets_and_the_earnings_show_it() {
    let f = fixture().await;
    let mut body = plan_at(now() + 5 * MINUTE);
    body["ppv_price"] = json!("4.99");
    let id = f.plan(body).await.body["id"].as_i64().unwrap();
    for _ in 0..2 {
        let bought = f
            .send(
                "POST",
                &format!("/api/streams/alice/tickets?stream_id={id}"),
                false,
                None,
            )
            .await;
        assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.body);
    }
    let earnings = f
        .send("GET", "/api/streams/alice/earnings", true, None)
        .await;
    assert_eq!(earnings.body["total_cents"], 998, "{}", earnings.body);

    let mut repriced = plan_at(now() + 5 * MINUTE);
    repriced["ppv_price"] = json!("2.00");
    let refused = f
        .send("PUT", &format!("/api/schedule/{id}"), true, Some(repriced))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["error"]["field"], "ppv_price");

    let cancelled = f
        .send("DELETE", &format!("/api/schedule/{id}"), true, None)
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["refunded_tickets"], 2);
    let earnings = f
        .send("GET", "/api/streams/alice/earnings", true, None)
        .await;
    assert_eq!(earnings.body["total_cents"], 0, "{}", earnings.body);
    let after = f
        .send(
            "POST",
            &format!("/api/streams/alice/tickets?stream_id={id}"),
            false,
            None,
        )
        .await;
    assert_eq!(after.status, StatusCode::NOT_FOUND, "{}", after.body);
}
