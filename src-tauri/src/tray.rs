//! The tray: built once, then edited to match `onair_app::tray_model` on every change (Linux
//! trays deliver no clicks and their menus cannot be replaced, so every action is an item).

use std::sync::Mutex;

use onair_app::{tray_model, Studio, StudioView, TrayIcon, TrayModel};
use serde::{Deserialize, Serialize};
use tauri::image::Image;
use tauri::menu::{MenuBuilder, MenuItem, MenuItemBuilder};
use tauri::tray::{TrayIcon as TauriTray, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

/// The menu's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum TrayItem {
    GoLive,
    EndStream,
    Show,
    Quit,
}

impl TrayItem {
    const ALL: [Self; 4] = [Self::GoLive, Self::EndStream, Self::Show, Self::Quit];

    fn id(self) -> &'static str {
        match self {
            Self::GoLive => "go_live",
            Self::EndStream => "end_stream",
            Self::Show => "show",
            Self::Quit => "quit",
        }
    }
}

pub struct Tray {
    icon: TauriTray,
    go_live: MenuItem<Wry>,
    end: MenuItem<Wry>,
    status: MenuItem<Wry>,
    idle: Image<'static>,
    live: Image<'static>,
    /// What is applied (or being applied) last, and what `tray_state` reports.
    shown: Mutex<TrayModel>,
}

fn image(bytes: &[u8]) -> tauri::Result<Image<'static>> {
    Image::from_bytes(bytes).map(|i| i.to_owned())
}

pub fn build(app: &AppHandle, view: &StudioView) -> tauri::Result<Tray> {
    let model = tray_model(view, crate::now_ms());
    let go_live = MenuItemBuilder::with_id(TrayItem::GoLive.id(), "Go Live")
        .enabled(model.go_live_enabled)
        .build(app)?;
    let end = MenuItemBuilder::with_id(TrayItem::EndStream.id(), "End Stream")
        .enabled(model.end_enabled)
        .build(app)?;
    let status = MenuItemBuilder::with_id("status", &model.status)
        .enabled(false)
        .build(app)?;
    let show = MenuItemBuilder::with_id(TrayItem::Show.id(), "Show OnAir").build(app)?;
    let quit = MenuItemBuilder::with_id(TrayItem::Quit.id(), "Quit").build(app)?;
    let menu = MenuBuilder::new(app)
        .items(&[&status])
        .separator()
        .items(&[&go_live, &end])
        .separator()
        .items(&[&show, &quit])
        .build()?;
    let idle = image(include_bytes!("../../icons/tray-idle.png"))?;
    let live = image(include_bytes!("../../icons/tray-live.png"))?;
    let icon = TrayIconBuilder::with_id("onair")
        .icon(idle.clone())
        .tooltip("OnAir")
        .menu(&menu)
        .on_menu_event(|app, event| {
            if let Some(item) = TrayItem::ALL.into_iter().find(|i| event.id() == i.id()) {
                activate(app, item);
            }
        })
        .build(app)?;
    let tray = Tray {
        icon,
        go_live,
        end,
        status,
        idle,
        live,
        shown: Mutex::new(model.clone()),
    };
    tray.apply(&model);
    Ok(tray)
}

impl Tray {
    /// Brings the tray in line with `view` (only what changed is touched).
    /// Called from one task only, so applies never overtake each other.
    pub fn sync(&self, view: &StudioView) {
        let model = tray_model(view, crate::now_ms());
        {
            let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
            if *shown == model {
                return;
            }
            *shown = model.clone();
        }
        // Applied with the lock released: each menu edit waits for the main thread, which may
        // itself be waiting for `shown` (the `tray_state` command runs there). Holding it across
        // the edits deadlocked the app's main thread, and with it the window.
        self.apply(&model);
    }

    fn apply(&self, model: &TrayModel) {
        record_for_tests(model);
        let results = [
            self.go_live.set_enabled(model.go_live_enabled),
            self.end.set_enabled(model.end_enabled),
            self.status.set_text(&model.status),
            self.icon.set_icon(Some(match model.icon {
                TrayIcon::Idle => self.idle.clone(),
                TrayIcon::Live => self.live.clone(),
            })),
            self.icon
                .set_tooltip(Some(format!("OnAir · {}", model.status))),
        ];
        for err in results.into_iter().filter_map(Result::err) {
            tracing::warn!("tray update failed: {err}");
        }
    }
}

/// With test hooks on, writes each model applied to `ONAIR_TEST_TRAY_FILE`: with the window
/// closed no page is left to ask `tray_state`, and CI has no tray host to look at.
fn record_for_tests(model: &TrayModel) {
    static FILE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let file = FILE.get_or_init(|| {
        let hooks = std::env::var_os("ONAIR_TEST_HOOKS").is_some_and(|v| v == "1");
        hooks
            .then(|| std::env::var_os("ONAIR_TEST_TRAY_FILE").map(Into::into))
            .flatten()
    });
    let Some(path) = file else { return };
    // Written aside and renamed: a reader never sees half a file.
    let aside = path.with_extension("writing");
    let written = serde_json::to_vec(model)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(&aside, json))
        .and_then(|()| std::fs::rename(&aside, path));
    if let Err(err) = written {
        tracing::warn!(%err, "cannot record the tray for tests");
    }
}

/// What the tray shows now.
pub fn current(app: &AppHandle) -> TrayModel {
    let tray = app.state::<Tray>();
    let shown = tray.shown.lock().unwrap_or_else(|p| p.into_inner());
    shown.clone()
}

/// One menu item's action: the same path as the window's buttons.
pub fn activate(app: &AppHandle, item: TrayItem) {
    let studio = app.state::<Studio>().inner().clone();
    match item {
        TrayItem::GoLive => {
            let settings = studio.settings();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = studio.go_live(settings).await {
                    tracing::warn!(kind = ?e.kind, "Go Live from the tray failed: {e}");
                }
            });
        }
        TrayItem::EndStream => {
            tauri::async_runtime::spawn(async move {
                studio.end().await;
            });
        }
        TrayItem::Show => crate::show_window(app),
        TrayItem::Quit => crate::quit(app.clone(), "Quit"),
    }
}
