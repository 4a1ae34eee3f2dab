//! The API contract: the OpenAPI document is generated from the code and covers every route,
//! and schemathesis (a bounded, seeded run) finds no 5xx and no answer that breaks it.

use std::time::Duration;

use anyhow::{Context, Result};
use onair_e2e::backend::Backend;
use onair_e2e::harness::{free_tcp_port, viewer_python};

async fn backend(dir: &tempfile::TempDir) -> Result<Backend> {
    let db_url = format!("sqlite://{}", dir.path().join("onair.db").display());
    // Without a LiveKit server: every LiveKit call the API makes must fail gracefully too.
    let unused = free_tcp_port()?;
    Backend::start(
        &format!("ws://127.0.0.1:{unused}"),
        free_tcp_port()?,
        &db_url,
        // Schemathesis should explore the handlers, not the limiter (tested elsewhere).
        |c| c.rate_limit_per_minute = 100_000.try_into().unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_route() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = backend(&dir).await?;
    let doc: serde_json::Value = reqwest::get(backend.url("/api/openapi.json"))
        .await?
        .json()
        .await?;
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .context("paths")?
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/chat/bans",
            "/api/chat/bans/{id}",
            "/api/chat/log",
            "/api/chat/messages/{id}/hide",
            "/api/chat/settings",
            "/api/chat/timeouts",
            "/api/health",
            "/api/livekit/webhook",
            "/api/me",
            "/api/payments/stripe/webhook",
            "/api/replays/{id}",
            "/api/replays/{id}/video",
            "/api/schedule",
            "/api/schedule/upcoming",
            "/api/schedule/{id}",
            "/api/streams/end",
            "/api/streams/token",
            "/api/streams/{username}",
            "/api/streams/{username}/chat",
            "/api/streams/{username}/chat/events",
            "/api/streams/{username}/earnings",
            "/api/streams/{username}/history",
            "/api/streams/{username}/replays",
            "/api/streams/{username}/schedule",
            "/api/streams/{username}/tickets",
            "/api/streams/{username}/viewer-token",
            "/api/streams/{username}/viewers",
            "/api/streams/{username}/viewers/events",
            "/api/tickets/{id}",
            "/api/tickets/{id}/refund",
            "/live/{username}/schedule.ics",
            "/live/{username}/schedule/{file}",
        ]
    );
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_errors_and_no_answers_outside_the_schema() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = backend(&dir).await?;
    let key = backend.add_streamer("alice").await?;
    let schemathesis = viewer_python()?.with_file_name("schemathesis");
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(&schemathesis)
            .current_dir(dir.path())
            .args([
                "run",
                &backend.url("/api/openapi.json"),
                "--checks",
                "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
                "--max-examples",
                "30",
                "--seed",
                "42",
                // An event stream never ends (the count's, the chat's); their error answers
                // are covered by other tests.
                "--exclude-path-regex",
                "/events$",
                "--header",
                &format!("Authorization: Bearer {key}"),
                "--request-timeout",
                "10",
            ])
            .output(),
    )
    .await
    .context("schemathesis did not finish within 300 s")?
    .with_context(|| format!("run {}", schemathesis.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .skip_while(|l| !l.contains("SUMMARY"))
        .collect::<Vec<_>>()
        .join("\n");
    println!("{summary}");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
