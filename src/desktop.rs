//! The desktop studio under WebDriver: `tauri-driver` (which runs WebKitWebDriver) on free
//! ports, the `onair-studio` binary of this build, a fantoccini client, and helpers that wait
//! for DOM conditions with a deadline. Needs a display and a session bus: the test script
//! runs the tests under `xvfb-run` and `dbus-run-session` with an unlocked GNOME Keyring.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::harness::{self, retry_for};

/// Upper bound on starting or ending a WebDriver session (the app starting or quitting).
const WEBDRIVER_CALL: Duration = Duration::from_secs(60);

/// `tauri-driver` and the app it launches; both stopped on drop.
pub struct Desktop {
    driver: Child,
    port: u16,
    pub app: PathBuf,
    /// The app's settings (`XDG_CONFIG_HOME`) and the logs.
    pub dir: tempfile::TempDir,
    pub client: Option<Client>,
    env: Vec<(String, String)>,
}

impl Desktop {
    /// Starts tauri-driver with the app's environment (test hooks on, its own config dir).
    pub async fn start(extra_env: &[(&str, &str)]) -> Result<Self> {
        for (what, var) in [
            ("a display", "DISPLAY"),
            ("a session bus", "DBUS_SESSION_BUS_ADDRESS"),
        ] {
            if std::env::var_os(var).is_none() {
                bail!("the desktop tests need {what} (${var}): run them through scripts/test.sh");
            }
        }
        // ONAIR_STUDIO_BIN: another build of the app (the package check runs the installed one).
        let app = match std::env::var_os("ONAIR_STUDIO_BIN") {
            Some(path) => PathBuf::from(path),
            None => harness::built_bin("onair-studio", "onair-studio")?,
        };
        let dir = tempfile::tempdir()?;
        let (port, native_port) = (harness::free_tcp_port()?, harness::free_tcp_port()?);
        let log = std::fs::File::create(dir.path().join("app.log"))?;
        let driver = Command::new(tauri_driver()?)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("ONAIR_TEST_HOOKS", "1")
            .env("ONAIR_TEST_TRAY_FILE", dir.path().join("tray.json"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("RUST_LOG", "info")
            .envs(extra_env.iter().copied())
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .context("start tauri-driver (cargo install tauri-driver --version ^2 --locked)")?;
        let desktop = Self {
            driver,
            port,
            app,
            dir,
            client: None,
            env: extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let status = format!("http://127.0.0.1:{port}/status");
        retry_for(
            Duration::from_secs(15),
            Duration::from_millis(50),
            || async {
                reqwest::get(&status).await?;
                Ok(())
            },
        )
        .await
        .context("tauri-driver did not answer")?;
        Ok(desktop)
    }

    /// Launches the app (a WebDriver session) and waits for its window to be ready.
    pub async fn launch(&mut self) -> Result<&Client> {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({ "application": self.app.display().to_string() }),
        );
        // WebKitWebDriver waits for an app that never comes up (it crashed, or its binary was
        // being rewritten) without answering: bounded, so the test says so instead of hanging.
        let mut builder = ClientBuilder::rustls()?;
        builder.capabilities(caps);
        let webdriver = format!("http://127.0.0.1:{}", self.port);
        let client = tokio::time::timeout(WEBDRIVER_CALL, builder.connect(&webdriver))
            .await
            .with_context(|| {
                format!(
                    "no WebDriver session within {WEBDRIVER_CALL:?}: did {} start? (run it by hand under this display to see why not)",
                    self.app.display()
                )
            })?
            .context("WebDriver session (is WebKitWebDriver installed: webkit2gtk-driver?)")?;
        self.client = Some(client);
        self.wait_js(
            "the window is ready",
            Duration::from_secs(20),
            "return document.getElementById('app')?.dataset.ready === 'true'",
        )
        .await?;
        Ok(self.client())
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("launched")
    }

    /// Ends the WebDriver session (the app with it) and waits until no app process is left.
    pub async fn close(&mut self) -> Result<()> {
        if let Some(client) = self.client.take() {
            tokio::time::timeout(WEBDRIVER_CALL, client.close())
                .await
                .context("the WebDriver session did not close in time")??;
        }
        let app = self.app.clone();
        retry_for(Duration::from_secs(10), Duration::from_millis(50), || {
            let app = app.clone();
            async move {
                match app_pids(&app).as_slice() {
                    [] => Ok(()),
                    pids => bail!("app still running: {pids:?}"),
                }
            }
        })
        .await
    }

    /// Runs `script` (a function body returning a value) until it returns `true`.
    pub async fn wait_js(&self, what: &str, limit: Duration, script: &str) -> Result<Duration> {
        let started = std::time::Instant::now();
        let client = self.client();
        retry_for(limit, Duration::from_millis(25), || async {
            // The WebDriver error's status (script timeout, no such window, …) is in its
            // Debug form; its Display is often just "webdriver returned error: ".
            let answer = client
                .execute(script, vec![])
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            match answer {
                Value::Bool(true) => Ok(()),
                other => bail!("not yet: {other}"),
            }
        })
        .await
        .with_context(|| {
            // The app's last words say whether the window died or was busy.
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!(
                "waiting for {what}; the app's log ends:\n{}",
                tail.join("\n")
            )
        })?;
        Ok(started.elapsed())
    }

    /// An element's attribute (`data-*` included).
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        Ok(self
            .client()
            .find(Locator::Css(css))
            .await?
            .attr(name)
            .await?)
    }

    pub async fn text(&self, css: &str) -> Result<String> {
        Ok(self.client().find(Locator::Css(css)).await?.text().await?)
    }

    /// Replaces an input's value by typing, as a person would.
    pub async fn type_into(&self, css: &str, value: &str) -> Result<()> {
        let input = self.client().find(Locator::Css(css)).await?;
        input.clear().await?;
        if value.is_empty() {
            // Clearing fires no `input` event of its own; the window listens for one.
            self.client()
                .execute(
                    "document.querySelector(arguments[0]).dispatchEvent(new Event('input'))",
                    vec![json!(css)],
                )
                .await?;
        } else {
            input.send_keys(value).await?;
        }
        Ok(())
    }

    /// Clicks `css`, scrolled into view first as a person would (WebKitWebDriver does not
    /// scroll inside an overflowing column by itself).
    pub async fn click(&self, css: &str) -> Result<()> {
        self.client()
            .execute(
                "document.querySelector(arguments[0])?.scrollIntoView({block: 'center'})",
                vec![json!(css)],
            )
            .await?;
        self.client().find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Signs in through the form and waits for the studio to show.
    pub async fn sign_in(&self, backend_url: &str, api_key: &str) -> Result<()> {
        self.type_into("#backend-url", backend_url).await?;
        self.type_into("#api-key", api_key).await?;
        self.click("#sign-in").await?;
        self.wait_js(
            "the studio after sign-in",
            Duration::from_secs(10),
            "return !document.getElementById('studio').hidden",
        )
        .await?;
        Ok(())
    }

    /// Waits until the window shows `phase` (offline, live, …); returns how long it took.
    pub async fn wait_phase(&self, phase: &str, limit: Duration) -> Result<Duration> {
        self.wait_js(
            &format!("phase {phase}"),
            limit,
            &format!("return document.getElementById('phase').dataset.phase === '{phase}'"),
        )
        .await
    }

    /// Calls one of the app's commands from the page, as the window's own code does.
    pub async fn invoke(&self, command: &str, args: Value) -> Result<Value> {
        let script = "const done = arguments[arguments.length - 1];\
            window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])\
              .then(ok => done({ ok }), err => done({ err }));";
        let answer = self
            .client()
            .execute_async(script, vec![json!(command), args])
            .await?;
        if let Some(err) = answer.get("err") {
            bail!("{command} failed: {err}");
        }
        Ok(answer["ok"].clone())
    }

    /// Saves a screenshot of the window as `<dir>/<name>.png` and returns its path.
    pub async fn screenshot(&self, dir: &Path, name: &str) -> Result<PathBuf> {
        // The DOM may be ahead of the pixels: wait (at most 2 s) until two frames were painted
        // since. Without compositing WebKit may not run animation frames for a still page.
        let painted = self.client().execute_async(
            "const done = arguments[arguments.length - 1];\
             requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            vec![],
        );
        if tokio::time::timeout(Duration::from_secs(2), painted)
            .await
            .is_err()
        {
            eprintln!("screenshot {name}: no animation frame within 2 s; taking it anyway");
        }
        let png = self.client().screenshot().await?;
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Starts the app a second time, as a creator would from the menu, with the same
    /// environment; returns its exit status (it should hand over to the running one and exit).
    pub async fn start_again(&self, limit: Duration) -> Result<std::process::ExitStatus> {
        let mut second = Command::new(&self.app)
            .env("ONAIR_TEST_HOOKS", "1")
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start the app again")?;
        let exited = retry_for(limit, Duration::from_millis(20), || {
            let status = second.try_wait();
            async move { status?.context("still running") }
        })
        .await;
        if exited.is_err() {
            let _ = second.kill();
            let _ = second.wait();
        }
        exited.context("the second start did not exit")
    }

    /// Top-level X windows titled `title` (destroyed windows are gone from the tree).
    pub fn windows_titled(&self, title: &str) -> Result<usize> {
        let out = Command::new("xwininfo").args(["-root", "-tree"]).output()?;
        anyhow::ensure!(out.status.success(), "xwininfo failed");
        let needle = format!("\"{title}\": (");
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&needle))
            .count())
    }

    /// Closes the window as its close button would (OnAir stays in the tray) and waits until
    /// it is gone from the X window tree.
    pub async fn close_window(&self) -> Result<()> {
        // The window goes while the call waits for its answer: no answer is expected.
        let _ = self.invoke("close_window", json!({})).await;
        retry_for(
            Duration::from_secs(5),
            Duration::from_millis(50),
            || async {
                anyhow::ensure!(self.windows_titled("OnAir")? == 0, "window still there");
                Ok(())
            },
        )
        .await
    }

    /// What the tray shows, as the app last applied it (readable with the window closed).
    pub fn tray_recorded(&self) -> Result<Value> {
        let path = self.dir.path().join("tray.json");
        let json = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(serde_json::from_slice(&json)?)
    }

    /// What the app logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("app.log")).unwrap_or_default()
    }

    /// The running app's process ids.
    pub fn pids(&self) -> Vec<u32> {
        app_pids(&self.app)
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: tauri-driver then stops WebKitWebDriver too.
        let _ = Command::new("kill")
            .args(["-TERM", &self.driver.id().to_string()])
            .status();
        let _ = self.driver.wait();
        for pid in app_pids(&self.app) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

fn tauri_driver() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return Ok(path.into());
    }
    let home = std::env::var_os("HOME").context("HOME")?;
    let cargo_bin = Path::new(&home).join(".cargo/bin/tauri-driver");
    Ok(if cargo_bin.exists() {
        cargo_bin
    } else {
        "tauri-driver".into()
    })
}

/// Processes whose executable is `app`.
fn app_pids(app: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == app))
        .collect()
}

/// Whether the OS keyring holds a key for `backend_url` (through `secret-tool`, independent
/// of the app's own keyring client).
pub fn keyring_has_key(backend_url: &str) -> Result<Option<String>> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "onair", "username", backend_url])
        .output()
        .context("secret-tool (libsecret-tools)")?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty()))
}
