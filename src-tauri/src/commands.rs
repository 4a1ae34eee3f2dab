//! The window's commands: each a line or two over `onair_app::Studio`. Their TypeScript
//! types are generated into `ui/src/bindings.ts` (see `bindings`).

use onair_app::view::ReportView;
use onair_app::{
    Account, BanOutcomeView, BanView, ChatPanelView, ChatSettings, DeviceList, ErrorKind, MicLevel,
    ModerationView, PreviewChoice, ScheduleForm, ScheduleView, Studio, StudioSettings, StudioView,
    TrayModel, UiError,
};
use tauri::{AppHandle, State};

use crate::tray::{self, TrayItem};

#[tauri::command]
#[specta::specta]
pub fn studio_view(studio: State<'_, Studio>) -> StudioView {
    studio.view()
}

#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    studio: State<'_, Studio>,
    backend_url: String,
    api_key: String,
) -> Result<Account, UiError> {
    studio.sign_in(&backend_url, &api_key).await
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out(studio: State<'_, Studio>) -> Result<(), UiError> {
    studio.sign_out().await
}

#[tauri::command]
#[specta::specta]
pub fn get_settings(studio: State<'_, Studio>) -> StudioSettings {
    studio.settings()
}

/// Every bad field, for inline messages while typing; sends nothing anywhere.
#[tauri::command]
#[specta::specta]
pub fn check_settings(settings: StudioSettings) -> Vec<UiError> {
    settings.field_errors()
}

#[tauri::command]
#[specta::specta]
pub fn save_settings(studio: State<'_, Studio>, settings: StudioSettings) -> Result<(), UiError> {
    studio.save_settings(settings)
}

#[tauri::command]
#[specta::specta]
pub async fn list_devices(studio: State<'_, Studio>) -> Result<DeviceList, UiError> {
    Ok(studio.devices().await)
}

#[tauri::command]
#[specta::specta]
pub async fn go_live(studio: State<'_, Studio>, settings: StudioSettings) -> Result<(), UiError> {
    studio.go_live(settings).await
}

#[tauri::command]
#[specta::specta]
pub async fn end_stream(studio: State<'_, Studio>) -> Result<Option<ReportView>, UiError> {
    Ok(studio.end().await)
}

#[tauri::command]
#[specta::specta]
pub async fn reconnect_now(studio: State<'_, Studio>) -> Result<(), UiError> {
    studio.reconnect_now().await;
    Ok(())
}

/// Offline: opens the chosen picture and sound for the preview and the meter; `None` closes
/// them (the window is hidden).
#[tauri::command]
#[specta::specta]
pub async fn set_preview(
    studio: State<'_, Studio>,
    choice: Option<PreviewChoice>,
) -> Result<(), UiError> {
    studio.set_preview(choice).await
}

/// The meter's reading now (the window asks ten times a second while shown).
#[tauri::command]
#[specta::specta]
pub fn mic_level(studio: State<'_, Studio>) -> Option<MicLevel> {
    studio.mic_level()
}

#[tauri::command]
#[specta::specta]
pub fn chat_view(studio: State<'_, Studio>) -> ChatPanelView {
    studio.chat()
}

/// The creator has seen the chat panel's messages (the window is shown and the panel read).
#[tauri::command]
#[specta::specta]
pub fn chat_seen(studio: State<'_, Studio>) {
    studio.chat_seen();
}

#[tauri::command]
#[specta::specta]
pub async fn hide_message(studio: State<'_, Studio>, message_id: f64) -> Result<(), UiError> {
    studio.hide_message(message_id).await
}

/// Answers until when the chatter is timed out (Unix ms).
#[tauri::command]
#[specta::specta]
pub async fn time_out(
    studio: State<'_, Studio>,
    message_id: f64,
    seconds: u32,
) -> Result<f64, UiError> {
    studio.time_out(message_id, seconds).await
}

#[tauri::command]
#[specta::specta]
pub async fn ban(
    studio: State<'_, Studio>,
    message_id: f64,
    refund: bool,
    reason: Option<String>,
) -> Result<BanOutcomeView, UiError> {
    studio.ban(message_id, refund, reason).await
}

#[tauri::command]
#[specta::specta]
pub async fn bans(studio: State<'_, Studio>) -> Result<Vec<BanView>, UiError> {
    studio.bans().await
}

#[tauri::command]
#[specta::specta]
pub async fn unban(studio: State<'_, Studio>, ban_id: f64) -> Result<(), UiError> {
    studio.unban(ban_id).await
}

#[tauri::command]
#[specta::specta]
pub async fn chat_settings(studio: State<'_, Studio>) -> Result<ChatSettings, UiError> {
    studio.chat_settings().await
}

#[tauri::command]
#[specta::specta]
pub async fn save_chat_settings(
    studio: State<'_, Studio>,
    settings: ChatSettings,
) -> Result<ChatSettings, UiError> {
    studio.save_chat_settings(settings).await
}

#[tauri::command]
#[specta::specta]
pub async fn moderation_log(studio: State<'_, Studio>) -> Result<Vec<ModerationView>, UiError> {
    studio.moderation_log().await
}

/// Plans a stream; answers the schedule as it is then (a wrong field comes back by name).
#[tauri::command]
#[specta::specta]
pub async fn schedule_stream(
    studio: State<'_, Studio>,
    form: ScheduleForm,
) -> Result<ScheduleView, UiError> {
    studio.schedule_stream(form).await
}

#[tauri::command]
#[specta::specta]
pub async fn edit_scheduled(
    studio: State<'_, Studio>,
    id: f64,
    form: ScheduleForm,
) -> Result<ScheduleView, UiError> {
    studio.edit_scheduled(id, form).await
}

/// Calls a scheduled stream off (its tickets are refunded).
#[tauri::command]
#[specta::specta]
pub async fn cancel_scheduled(studio: State<'_, Studio>, id: f64) -> Result<ScheduleView, UiError> {
    studio.cancel_scheduled(id).await
}

fn test_hooks() -> Result<(), UiError> {
    if std::env::var_os("ONAIR_TEST_HOOKS").is_some_and(|v| v == "1") {
        Ok(())
    } else {
        Err(UiError::new(
            ErrorKind::Settings,
            "test hooks are off (set ONAIR_TEST_HOOKS=1)",
        ))
    }
}

/// Uploads a recording of the folder as its stream's replay (again).
#[tauri::command]
#[specta::specta]
pub fn upload_recording(studio: State<'_, Studio>, file: String) -> Result<(), UiError> {
    studio.upload_recording(&file)
}

/// Shows a recording (or, without one, the folder) in the file manager.
#[tauri::command]
#[specta::specta]
pub fn show_recording(studio: State<'_, Studio>, file: Option<String>) -> Result<(), UiError> {
    let dir = studio.recordings_dir();
    let target = match file {
        Some(file) => onair_app::recordings::in_folder(&dir, &file).ok_or_else(|| {
            UiError::new(
                ErrorKind::Recording,
                format!("{file} is not in {}.", dir.display()),
            )
        })?,
        None => dir,
    };
    tauri_plugin_opener::reveal_item_in_dir(&target).map_err(|e| {
        UiError::new(
            ErrorKind::Recording,
            format!("No file manager could show {}: {e}", target.display()),
        )
    })
}

/// For tests (CI has no tray host to look at): what the tray shows now.
#[tauri::command]
#[specta::specta]
pub fn tray_state(app: AppHandle) -> Result<TrayModel, UiError> {
    test_hooks()?;
    Ok(tray::current(&app))
}

/// For tests: activates a tray menu item exactly as a click on it would.
#[tauri::command]
#[specta::specta]
pub fn tray_click(app: AppHandle, item: TrayItem) -> Result<(), UiError> {
    test_hooks()?;
    tray::activate(&app, item);
    Ok(())
}

/// For the benchmark: closes the window as its close button would (OnAir stays in the tray).
#[tauri::command]
#[specta::specta]
pub fn close_window(app: AppHandle) -> Result<(), UiError> {
    test_hooks()?;
    if let Some(window) = tauri::Manager::get_webview_window(&app, "main") {
        window
            .close()
            .map_err(|e| UiError::new(ErrorKind::Settings, e.to_string()))?;
    }
    Ok(())
}
