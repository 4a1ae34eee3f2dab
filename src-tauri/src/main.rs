//! The OnAir desktop studio: wires the window, the tray, the commands and exit handling to
//! `onair_app::Studio`. Closing the window keeps OnAir in the tray (the webview is freed);
//! Quit, SIGTERM and SIGINT end a live stream first, within a deadline.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bindings;
mod commands;
mod tray;

use std::time::Duration;

use onair_app::{OsKeyring, Studio};
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};
use tauri_specta::Event;

/// How long Quit and SIGTERM wait for the stream to end before exiting anyway.
const QUIT_DEADLINE: Duration = Duration::from_secs(8);
/// How often the studio asks for the schedule again (what Go Live takes over and the tray's
/// "Next:" line follow the clock; one small request a minute).
const SCHEDULE_EVERY: Duration = Duration::from_secs(60);

/// Unix milliseconds (the tray's time on air).
pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Shows the window, creating it again if it was closed.
pub(crate) fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, "main", WebviewUrl::default())
        .title("OnAir")
        .inner_size(1120.0, 780.0)
        .min_inner_size(420.0, 560.0)
        .build();
    match built {
        Ok(window) => {
            // The window is gone (OnAir stays in the tray): nobody sees the preview, so the
            // camera it held is closed.
            let studio = app.state::<Studio>().inner().clone();
            window.on_window_event(move |event| {
                if let tauri::WindowEvent::Destroyed = event {
                    tracing::info!("window closed; OnAir stays in the tray");
                    let studio = studio.clone();
                    tauri::async_runtime::spawn(async move { studio.set_preview(None).await });
                }
            });
        }
        Err(e) => tracing::error!("cannot open the window: {e}"),
    }
}

/// Ends whatever is live (bounded), logs the report, exits.
pub(crate) fn quit(app: AppHandle, why: &'static str) {
    static QUITTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if QUITTING.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    tracing::info!("{why}: ending any live stream, then exiting");
    let studio = app.state::<Studio>().inner().clone();
    tauri::async_runtime::spawn(async move {
        if let Some(report) = studio.shutdown(QUIT_DEADLINE).await {
            tracing::info!(
                all_ok = report.all_ok,
                participant_gone = report.participant_gone,
                total_ms = report.total_ms,
                "stream ended before exit"
            );
        }
        app.exit(0);
    });
}

/// `preview://localhost/frame?after=SEQ`: the newest preview picture after SEQ as 12 bytes
/// (width, height, seq: u32 little-endian) and RGBA rows, or 204 when there is none. Binary
/// over a custom protocol: JSON through a command would cost more than the picture.
fn preview_protocol(
    ctx: tauri::UriSchemeContext<'_, tauri::Wry>,
    request: tauri::http::Request<Vec<u8>>,
) -> tauri::http::Response<Vec<u8>> {
    let after = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("after=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let frame = ctx
        .app_handle()
        .try_state::<Studio>()
        .and_then(|studio| studio.preview_frame(after));
    let builder = tauri::http::Response::builder()
        .header("Access-Control-Allow-Origin", "*")
        .header("Cache-Control", "no-store");
    let response = match frame {
        Some(frame) => {
            let mut body = Vec::with_capacity(12 + frame.rgba.len());
            for n in [frame.width, frame.height, frame.seq as u32] {
                body.extend_from_slice(&n.to_le_bytes());
            }
            body.extend_from_slice(&frame.rgba);
            builder
                .header("Content-Type", "application/octet-stream")
                .body(body)
        }
        None => builder.status(204).body(Vec::new()),
    };
    response.unwrap_or_else(|_| tauri::http::Response::new(Vec::new()))
}

fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    let handle = app.handle().clone();
    // The SDK library travels in the bundle's resources; an explicit ONAIR_LIVEKIT_LIB or a
    // copy next to the binary still wins. It is loaded when first needed (Go Live, the
    // preview); a missing one is said at once.
    let engine = onair_livekit::LoadOptions {
        resource_dir: app.path().resource_dir().ok(),
        ..Default::default()
    };
    // `--self-check`: load it, say from where, and stop (the package check runs this on the
    // installed binary).
    if std::env::args().any(|a| a == "--self-check") {
        let (code, answer) = match onair_livekit::load(&engine) {
            Ok(info) => (
                0,
                serde_json::json!({ "ok": true, "sdk_library": info.path, "resource_dir": engine.resource_dir }),
            ),
            Err(e) => (
                1,
                serde_json::json!({ "ok": false, "error": e.to_string() }),
            ),
        };
        println!("{answer}");
        std::process::exit(code);
    }
    let config_dir = app.path().app_config_dir()?;
    let (studio, problem) = Studio::open(&config_dir, Box::new(OsKeyring));
    if let Some(problem) = problem {
        tracing::warn!(kind = ?problem.kind, "{problem}");
    }
    let candidates = engine.candidates();
    if !candidates.iter().any(|p| p.exists()) {
        tracing::error!(?candidates, "no LiveKit SDK library found");
        studio.report_problem(onair_app::UiError::engine(
            "The LiveKit SDK library is missing",
        ));
    }
    studio.set_engine_options(engine);
    // The creator's videos folder, where a file manager shows them; tests give their own.
    let recordings = std::env::var_os("ONAIR_RECORDINGS_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| app.path().video_dir().ok().map(|d| d.join("OnAir")))
        .unwrap_or_else(|| config_dir.join("recordings"));
    studio.set_recordings_dir(recordings);
    let signed_in = studio.clone();
    tauri::async_runtime::spawn(async move {
        signed_in.refresh_earnings();
        signed_in.refresh_schedule();
        signed_in.keep_schedule_current(SCHEDULE_EVERY);
    });
    let tray = tray::build(&handle, &studio.view())?;
    app.manage(tray);
    app.manage(studio.clone());

    // Every change of the view goes to the window and the tray; the tray's clock ticks
    // while live.
    let mut views = studio.subscribe();
    let app_for_views = handle.clone();
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                changed = views.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let view = views.borrow_and_update().clone();
                    let _ = bindings::StudioUpdated(view.clone()).emit(&app_for_views);
                    app_for_views.state::<tray::Tray>().sync(&view);
                }
                _ = tick.tick() => {
                    let view = views.borrow().clone();
                    app_for_views.state::<tray::Tray>().sync(&view);
                }
            }
        }
    });

    let mut chat = studio.subscribe_chat();
    let app_for_chat = handle.clone();
    tauri::async_runtime::spawn(async move {
        while chat.changed().await.is_ok() {
            let panel = chat.borrow_and_update().clone();
            let _ = bindings::ChatUpdated(panel).emit(&app_for_chat);
        }
    });

    let app_for_signals = handle.clone();
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot listen for SIGTERM/SIGINT");
            return;
        };
        let why = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        quit(app_for_signals, why);
    });

    // `scripts/run.sh` signs the studio in to the local backend it just started.
    if let (Ok(url), Ok(key)) = (
        std::env::var("ONAIR_BACKEND_URL"),
        std::env::var("ONAIR_API_KEY"),
    ) {
        let studio = studio.clone();
        tauri::async_runtime::spawn(async move {
            if let Err(e) = studio.sign_in(&url, &key).await {
                studio.report_problem(e);
            }
        });
    }
    let tray_only = std::env::args().any(|a| a == "--tray");
    if !tray_only {
        show_window(&handle);
    }
    tracing::info!(tray_only, "OnAir started");
    Ok(())
}

/// Without a GPU (no DRM render node: VMs, remote desktops, Xvfb) WebKitGTK composites with
/// software GL, which cost the studio's web process 74 % of a core for the preview against 6 %
/// without compositing (benches/studio.rs). An explicit setting always wins.
fn prefer_cheap_webview_rendering() {
    const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    let has_gpu = std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    if !has_gpu && std::env::var_os(VAR).is_none() {
        // Before any thread exists (the first lines of main), so nothing reads the
        // environment concurrently.
        std::env::set_var(VAR, "1");
    }
}

fn main() {
    // Before any thread starts (it may start the program again in place): with glibc's
    // defaults, memory grows with every stream (see its docs).
    let memory = onair_livekit::tune_memory();
    prefer_cheap_webview_rendering();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,onair=debug".into()),
        )
        .init();
    memory.log();
    let specta = bindings::builder();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tracing::info!("OnAir started again: showing the running one's window");
            show_window(app)
        }))
        .invoke_handler(specta.invoke_handler())
        .register_uri_scheme_protocol("preview", preview_protocol)
        .setup(move |app| {
            specta.mount_events(app);
            setup(app)
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: OnAir cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|_, event| {
        // The last window closing asks to exit (code None): OnAir stays in the tray.
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}
