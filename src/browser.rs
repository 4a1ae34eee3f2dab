//! Debian's Chromium driven by playwright-core (`ui/e2e/driver.mjs`) for the viewer-page
//! tests and benchmark: pages in separate browser contexts (separate viewers), scripts
//! evaluated in them, conditions waited for with a deadline, screenshots.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::harness::{repo_root, retry_for};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value>>>>>;

pub struct Browser {
    child: tokio::process::Child,
    stdin: tokio::sync::Mutex<tokio::process::ChildStdin>,
    pending: Pending,
    next: AtomicU64,
    log: Arc<Mutex<String>>,
}

impl Browser {
    /// Starts Chromium (headless, fresh profile). Needs `npm ci` in `ui/` and
    /// `/usr/bin/chromium` (scripts/setup.sh installs both).
    pub async fn launch() -> Result<Self> {
        let driver = repo_root().join("ui/e2e/driver.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(&driver)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("start node ui/e2e/driver.mjs")?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // Chromium complains about the missing system bus on every start.
                if !line.contains("dbus") {
                    sink.lock().unwrap().push_str(&format!("{line}\n"));
                }
            }
        });
        let pending: Pending = Arc::default();
        let (ready_tx, ready_rx) = oneshot::channel();
        let answers = pending.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if v["ready"] == true {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(v["version"].as_str().unwrap_or("").to_owned());
                    }
                    continue;
                }
                let Some(id) = v["id"].as_u64() else { continue };
                if let Some(tx) = answers.lock().unwrap().remove(&id) {
                    let _ = tx.send(if v["ok"] == true {
                        Ok(v["value"].clone())
                    } else {
                        Err(anyhow!("{}", v["error"].as_str().unwrap_or("failed")))
                    });
                }
            }
        });
        let browser = Self {
            child,
            stdin: tokio::sync::Mutex::new(stdin),
            pending,
            next: AtomicU64::new(1),
            log,
        };
        match tokio::time::timeout(Duration::from_secs(30), ready_rx).await {
            Ok(Ok(version)) => eprintln!("chromium {version}"),
            _ => bail!(
                "Chromium did not start within 30 s (is /usr/bin/chromium installed and `npm ci` run in ui/?): {}",
                browser.log()
            ),
        }
        Ok(browser)
    }

    async fn call(&self, mut command: Value, limit: Duration) -> Result<Value> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        command["id"] = json!(id);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let line = format!("{command}\n");
        self.stdin.lock().await.write_all(line.as_bytes()).await?;
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => bail!("the browser driver exited; its log: {}", self.log()),
            Err(_) => {
                self.pending.lock().unwrap().remove(&id);
                bail!("no answer to {command} within {limit:?}")
            }
        }
    }

    /// Opens `url` in a new, isolated page of `width`x`height`; answers once the document
    /// is parsed.
    pub async fn open(&self, url: &str, width: u32, height: u32) -> Result<Page<'_>> {
        self.open_in(url, width, height, None).await
    }

    /// The same for a viewer in time zone `timezone` (an IANA name, "Asia/Tokyo").
    pub async fn open_in(
        &self,
        url: &str,
        width: u32,
        height: u32,
        timezone: Option<&str>,
    ) -> Result<Page<'_>> {
        let mut command = json!({"cmd": "open", "url": url, "width": width, "height": height});
        if let Some(zone) = timezone {
            command["timezone"] = json!(zone);
        }
        let v = self.call(command, Duration::from_secs(30)).await?;
        Ok(Page {
            browser: self,
            id: v["page"].as_u64().context("page id")?,
            status: v["status"].as_u64().unwrap_or(0) as u16,
        })
    }

    /// What the pages printed to their consoles, and the driver's errors.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The driver's process id while it runs (Chromium runs under it).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// One page in its own browser context.
pub struct Page<'b> {
    browser: &'b Browser,
    pub id: u64,
    /// The HTTP status of the document.
    pub status: u16,
}

impl Page<'_> {
    /// Evaluates a JavaScript expression (awaited if it is a promise).
    pub async fn eval(&self, js: &str) -> Result<Value> {
        self.browser
            .call(
                json!({"cmd": "eval", "page": self.id, "js": js}),
                Duration::from_secs(30),
            )
            .await
    }

    /// Waits until `js` is truthy, at most `limit`; returns its value. Polled with `eval` (a
    /// DevTools call, outside the page's Content-Security-Policy, which forbids the string
    /// evaluation Playwright's own waitForFunction does inside the page).
    pub async fn wait(&self, js: &str, limit: Duration) -> Result<Value> {
        retry_for(limit, Duration::from_millis(20), || async {
            let value = self.eval(js).await?;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value.as_f64() != Some(0.0)
                && value.as_str() != Some("");
            anyhow::ensure!(truthy, "last value {value}");
            Ok(value)
        })
        .await
        .with_context(|| {
            format!(
                "waiting for `{js}` (page {}); browser log:\n{}",
                self.id,
                self.browser.log()
            )
        })
    }

    /// Waits until the page's state is `state` (`#app[data-state]`).
    pub async fn wait_state(&self, state: &str, limit: Duration) -> Result<()> {
        self.wait(
            &format!("document.getElementById('app')?.dataset.state === '{state}'"),
            limit,
        )
        .await
        .map(|_| ())
    }

    pub async fn text(&self, id: &str) -> Result<String> {
        Ok(self
            .eval(&format!(
                "document.getElementById('{id}')?.textContent ?? ''"
            ))
            .await?
            .as_str()
            .unwrap_or("")
            .to_owned())
    }

    /// Loads another address in this page (the old document is left as a viewer leaves it).
    pub async fn goto(&self, url: &str) -> Result<u16> {
        let v = self
            .browser
            .call(
                json!({"cmd": "goto", "page": self.id, "url": url}),
                Duration::from_secs(30),
            )
            .await?;
        Ok(v["status"].as_u64().unwrap_or(0) as u16)
    }

    /// Clicks the element `selector` (a CSS selector), as a viewer would.
    pub async fn click(&self, selector: &str) -> Result<()> {
        self.browser
            .call(
                json!({"cmd": "click", "page": self.id, "selector": selector}),
                Duration::from_secs(30),
            )
            .await
            .map(|_| ())
    }

    /// The address the page is at now.
    pub async fn url(&self) -> Result<String> {
        let v = self
            .browser
            .call(
                json!({"cmd": "url", "page": self.id}),
                Duration::from_secs(30),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Answers every request matching the glob `pattern` with `html`: a stand-in for a site
    /// this machine cannot reach (Stripe's hosted checkout).
    pub async fn stand_in(&self, pattern: &str, html: &str) -> Result<()> {
        self.browser
            .call(
                json!({"cmd": "stand_in", "page": self.id, "pattern": pattern, "html": html}),
                Duration::from_secs(30),
            )
            .await
            .map(|_| ())
    }

    /// Saves `.onair/screenshots/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let dir = repo_root().join(".onair/screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        self.browser
            .call(
                json!({"cmd": "screenshot", "page": self.id, "path": path}),
                Duration::from_secs(30),
            )
            .await?;
        Ok(path)
    }

    /// Closes the page (like closing its tab).
    pub async fn close(self) -> Result<()> {
        self.browser
            .call(
                json!({"cmd": "close", "page": self.id}),
                Duration::from_secs(30),
            )
            .await
            .map(|_| ())
    }
}
