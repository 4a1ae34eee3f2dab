//! Replays through the backend's router, over a real SQLite file and real recordings made by
//! ffmpeg: an ended stream's recording kept and served with byte ranges, refusals with their
//! reasons (not a recording, far too long, too large, not ended), deleting, and pay-per-view
//! replays behind a paid ticket. The replay page in Chromium and the upload from the studio
//! are in the end-to-end tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use onair_server::{app, db, keys, AppState, Config};
use serde_json::Value;
use tower::ServiceExt;

const KEY_SECRET: &str = "key-secret";

struct Fixture {
    state: AppState,
    alice: String,
    bob: String,
    dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    body: Value,
    bytes: Vec<u8>,
    headers: axum::http::HeaderMap,
}

async fn fixture(tweak: impl FnOnce(&mut Config)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("onair.db").display());
    let pool = db::open(&url).await.unwrap();
    let mut key_of = Vec::new();
    for name in ["alice", "bob"] {
        let key = keys::generate();
        db::add_streamer(&pool, name, &keys::hash(KEY_SECRET.as_bytes(), &key), 0)
            .await
            .unwrap()
            .unwrap();
        key_of.push(key);
    }
    let mut config = Config::new(
        &url,
        "ws://127.0.0.1:9",
        "lk-key",
        "lk-secret-of-at-least-thirty-two-characters",
        KEY_SECRET,
    );
    config.replay_dir = dir.path().join("replays");
    tweak(&mut config);
    Fixture {
        state: AppState::new(config, pool),
        bob: key_of.pop().unwrap(),
        alice: key_of.pop().unwrap(),
        dir,
    }
}

impl Fixture {
    async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Vec<u8>,
        range: Option<&str>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        if let Some(range) = range {
            builder = builder.header(header::RANGE, range);
        }
        let mut request = builder.body(Body::from(body)).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            bytes,
            headers,
        }
    }

    /// One of alice's streams, on air for `seconds` and ended, with `price` in cents.
    async fn ended_stream(&self, seconds: i64, price: Option<u32>) -> i64 {
        let streamer = db::streamer_by_username(&self.state.db, "alice")
            .await
            .unwrap()
            .unwrap();
        let end = onair_server::live::now_ms();
        let start = end - seconds * 1000;
        db::create_stream(&self.state.db, streamer.id, "Recorded", price, start)
            .await
            .unwrap();
        let id = db::start_stream(&self.state.db, streamer.id, start)
            .await
            .unwrap();
        let figures = db::Figures {
            peak: 0,
            unique: 0,
            watch_time_ms: 0,
            tally: String::new(),
            version: 1,
        };
        assert!(db::end_stream(&self.state.db, id, &figures, end, "ended")
            .await
            .unwrap());
        id
    }

    fn files_kept(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path().join("replays"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    }
}

/// A fragmented MP4 as OnAir records it (H.264 + AAC), `seconds` long, made by ffmpeg.
fn recording(dir: &Path, seconds: u32, size: &str) -> Vec<u8> {
    let path = dir.join(format!("rec-{seconds}-{size}.mp4"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=30"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t",
            &seconds.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ])
        .args(["-c:a", "aac", "-movflags", "frag_keyframe+empty_moov"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    assert!(status.success());
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn an_ended_streams_recording_becomes_its_replay_and_plays_in_byte_ranges() {
    let f = fixture(|_| {}).await;
    let id = f.ended_stream(4, None).await;
    let file = recording(f.dir.path(), 3, "320x180");
    let up = f
        .send(
            "PUT",
            &format!("/api/replays/{id}"),
            Some(&f.alice),
            file,
            None,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    assert_eq!(up.body["stream_id"], id);
    assert_eq!(
        (up.body["width"].as_i64(), up.body["height"].as_i64()),
        (Some(320), Some(180))
    );
    assert!(
        (up.body["duration_ms"].as_i64().unwrap() - 3000).abs() < 100,
        "{}",
        up.body
    );
    assert_eq!(up.body["video_url"], format!("/api/replays/{id}/video"));

    let listed = f
        .send("GET", "/api/streams/alice/replays", None, vec![], None)
        .await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );

    let whole = f
        .send(
            "GET",
            &format!("/api/replays/{id}/video"),
            None,
            vec![],
            None,
        )
        .await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.headers[header::CONTENT_TYPE], "video/mp4");
    assert_eq!(whole.bytes.len() as i64, up.body["bytes"].as_i64().unwrap());
    // Remuxed with its index first: a browser can play and seek before it has the rest.
    let at = |tag: &[u8]| whole.bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(at(b"moov") < at(b"mdat"), "the index is not first");

    let part = f
        .send(
            "GET",
            &format!("/api/replays/{id}/video"),
            None,
            vec![],
            Some("bytes=0-99"),
        )
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers[header::CONTENT_RANGE],
        format!("bytes 0-99/{}", whole.bytes.len()).as_str()
    );
    assert_eq!(part.bytes, whole.bytes[..100]);
}

#[tokio::test]
async fn a_file_that_is_not_a_recording_is_refused_with_its_reason_and_nothing_is_kept() {
    let f = fixture(|_| {}).await;
    let id = f.ended_stream(4, None).await;
    let up = f
        .send(
            "PUT",
            &format!("/api/replays/{id}"),
            Some(&f.alice),
            b"not a video".to_vec(),
            None,
        )
        .await;
    assert_eq!(up.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", up.body);
    assert_eq!(up.body["error"]["kind"], "invalid_recording");
    assert!(up.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a recording"));
    assert!(f.files_kept().is_empty(), "{:?}", f.files_kept());
    let one = f
        .send("GET", &format!("/api/replays/{id}"), None, vec![], None)
        .await;
    assert_eq!(one.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_recording_far_longer_than_its_stream_is_refused() {
    let f = fixture(|_| {}).await;
    let id = f.ended_stream(2, None).await;
    let file = recording(f.dir.path(), 40, "64x36");
    let up = f
        .send(
            "PUT",
            &format!("/api/replays/{id}"),
            Some(&f.alice),
            file,
            None,
        )
        .await;
    assert_eq!(up.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", up.body);
    let message = up.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("40 s long") && message.contains("2 s"),
        "{message}"
    );
    assert!(f.files_kept().is_empty());
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_nothing_is_kept() {
    let f = fixture(|c| c.replay_max_mb = 0).await;
    let id = f.ended_stream(4, None).await;
    let file = recording(f.dir.path(), 1, "64x36");
    let up = f
        .send(
            "PUT",
            &format!("/api/replays/{id}"),
            Some(&f.alice),
            file,
            None,
        )
        .await;
    assert_eq!(up.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", up.body);
    assert_eq!(up.body["error"]["kind"], "too_large");
    assert!(f.files_kept().is_empty());
}

#[tokio::test]
async fn a_stream_takes_a_replay_only_once_it_has_ended_and_only_from_its_creator() {
    let f = fixture(|_| {}).await;
    let streamer = db::streamer_by_username(&f.state.db, "alice")
        .await
        .unwrap()
        .unwrap();
    let now = onair_server::live::now_ms();
    db::create_stream(&f.state.db, streamer.id, "Live now", None, now)
        .await
        .unwrap();
    let live = db::start_stream(&f.state.db, streamer.id, now)
        .await
        .unwrap();
    let file = recording(f.dir.path(), 1, "64x36");
    let up = f
        .send(
            "PUT",
            &format!("/api/replays/{live}"),
            Some(&f.alice),
            file.clone(),
            None,
        )
        .await;
    assert_eq!(up.status, StatusCode::CONFLICT, "{}", up.body);
    assert_eq!(up.body["error"]["kind"], "not_ended");

    let ended = f.ended_stream(4, None).await;
    let by_bob = f
        .send(
            "PUT",
            &format!("/api/replays/{ended}"),
            Some(&f.bob),
            file.clone(),
            None,
        )
        .await;
    assert_eq!(by_bob.status, StatusCode::NOT_FOUND, "{}", by_bob.body);
    let anonymous = f
        .send("PUT", &format!("/api/replays/{ended}"), None, file, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_its_creator_deletes_a_replay_and_its_file_goes_with_it() {
    let f = fixture(|_| {}).await;
    let id = f.ended_stream(4, None).await;
    let file = recording(f.dir.path(), 2, "64x36");
    let up = f
        .send(
            "PUT",
            &format!("/api/replays/{id}"),
            Some(&f.alice),
            file,
            None,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    assert_eq!(f.files_kept().len(), 1);

    let by_bob = f
        .send(
            "DELETE",
            &format!("/api/replays/{id}"),
            Some(&f.bob),
            vec![],
            None,
        )
        .await;
    assert_eq!(by_bob.status, StatusCode::NOT_FOUND, "{}", by_bob.body);
    assert_eq!(f.files_kept().len(), 1);

    let by_alice = f
        .send(
            "DELETE",
            &format!("/api/replays/{id}"),
            Some(&f.alice),
            vec![],
            None,
        )
        .await;
    assert_eq!(by_alice.status, StatusCode::NO_CONTENT);
    assert!(f.files_kept().is_empty());
    let video = f
        .send(
            "GET",
            &format!("/api/replays/{id}/video"),
            None,
            vec![],
            None,
        )
        .await;
    assert_eq!(video.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_pay_per_view_replay_plays_only_with_a_paid_ticket_for_its_stream() {
    let f = fixture(|_| {}).await;
    let id = f.ended_stream(4, Some(499)).await;
    let other = f.ended_stream(4, Some(499)).await;
    let file = recording(f.dir.path(), 2, "64x36");
    let up = f
        .send(
            "PUT",
            &format!("/api/replays/{id}"),
            Some(&f.alice),
            file,
            None,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    assert_eq!(up.body["ppv_price_cents"], 499);

    let video = format!("/api/replays/{id}/video");
    let none = f.send("GET", &video, None, vec![], None).await;
    assert_eq!(none.status, StatusCode::PAYMENT_REQUIRED, "{}", none.body);
    assert_eq!(none.body["error"]["kind"], "payment_required");
    assert_eq!(none.body["error"]["price_cents"], 499);

    for (ticket, stream, paid) in [
        ("tk_for_this", id, false),
        ("tk_for_other", other, true),
        ("tk_paid", id, true),
    ] {
        db::create_ticket(
            &f.state.db,
            &db::NewTicket {
                id: ticket,
                device: None,
                stream_id: stream,
                price_cents: 499,
                currency: "usd",
                provider: "development",
                now_ms: 0,
            },
        )
        .await
        .unwrap();
        if paid {
            db::confirm_payment(&f.state.db, &format!("evt_{ticket}"), ticket, None, 0)
                .await
                .unwrap();
        }
    }
    let unpaid = f
        .send(
            "GET",
            &format!("{video}?ticket=tk_for_this"),
            None,
            vec![],
            None,
        )
        .await;
    assert_eq!(unpaid.status, StatusCode::PAYMENT_REQUIRED);
    let elsewhere = f
        .send(
            "GET",
            &format!("{video}?ticket=tk_for_other"),
            None,
            vec![],
            None,
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::PAYMENT_REQUIRED);
    let paid = f
        .send(
            "GET",
            &format!("{video}?ticket=tk_paid"),
            None,
            vec![],
            Some("bytes=0-99"),
        )
        .await;
    assert_eq!(paid.status, StatusCode::PARTIAL_CONTENT);
}

#[tokio::test]
async fn a_replay_page_is_served_only_under_its_own_streamers_name() {
    let f = fixture(|_| {}).await;
    let id = f.ended_stream(4, None).await;
    let file = recording(f.dir.path(), 1, "64x36");
    let up = f
        .send(
            "PUT",
            &format!("/api/replays/{id}"),
            Some(&f.alice),
            file,
            None,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    let elsewhere = f
        .send(
            "GET",
            &format!("/live/bob/replays/{id}"),
            None,
            vec![],
            None,
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    // Its own (this test has no built page: 503 says so, but not 404).
    let own = f
        .send(
            "GET",
            &format!("/live/alice/replays/{id}"),
            None,
            vec![],
            None,
        )
        .await;
    assert_ne!(own.status, StatusCode::NOT_FOUND);
}
