//! The API's OpenAPI document, generated from the handlers and the wire types. The viewer
//! page's TypeScript types are generated from the committed copy (`ui/src/viewer/openapi.json`
//! → `ui/src/viewer/api.ts`); a test here fails when that copy no longer matches the server.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{
    EndResponse, Me, StreamStatus, StreamSummary, TokenRequest, TokenResponse, ViewerTokenResponse,
};
use crate::db::StreamRecord;
use crate::error::ErrorBody;
use crate::live::ViewerCount;
use onair_core::wire::chat::{
    BanOutcome, BanRequest, ChatBan, ChatHidden, ChatMessage, ChatMode, ChatPost, ChatSettings,
    ChatStanding, ModerationEntry, TimeoutRequest,
};
use onair_core::wire::schedule::{CancelResponse, ScheduleRequest, ScheduleState, ScheduledStream};

#[derive(OpenApi)]
#[openapi(
    info(title = "OnAir API", description = "Streamers, LiveKit tokens, live viewer counts, stream records, pay-per-view and chat."),
    paths(crate::api::me, crate::api::stream_status, crate::api::publisher_token, crate::api::viewer_token,
          crate::api::end_stream, crate::api::viewers, crate::api::viewer_events, crate::api::history,
          crate::api::livekit_webhook, crate::api::health,
          crate::ppv::buy_ticket, crate::ppv::ticket, crate::ppv::refund, crate::ppv::earnings, crate::ppv::stripe_webhook,
          crate::chat_api::post_message, crate::chat_api::history, crate::chat_api::events, crate::chat_api::hide,
          crate::chat_api::time_out, crate::chat_api::ban, crate::chat_api::bans, crate::chat_api::unban,
          crate::chat_api::settings, crate::chat_api::set_settings, crate::chat_api::log,
          crate::schedule_api::create, crate::schedule_api::list, crate::schedule_api::edit, crate::schedule_api::cancel,
          crate::schedule_api::one, crate::schedule_api::upcoming, crate::schedule_api::upcoming_of, crate::schedule_api::feed, crate::schedule_api::event_file,
          crate::replay_api::upload, crate::replay_api::delete, crate::replay_api::one, crate::replay_api::list, crate::replay_api::video),
    components(schemas(Me, StreamStatus, StreamSummary, TokenRequest, TokenResponse, ViewerTokenResponse, EndResponse, ViewerCount, StreamRecord, ErrorBody,
          crate::ppv::TicketView, crate::ppv::Earnings, crate::ppv::ViewerTokenRequest, crate::db::StreamEarnings,
          ChatMessage, ChatPost, ChatHidden, ChatMode, ChatStanding, ChatSettings, TimeoutRequest, BanRequest, ChatBan, BanOutcome, ModerationEntry,
          ScheduleRequest, ScheduledStream, ScheduleState, CancelResponse, onair_core::wire::replay::Replay)),
    modifiers(&ApiKeyAuth),
    tags((name = "streams", description = "Going live and watching"), (name = "pay-per-view", description = "Tickets, payments, earnings"), (name = "chat", description = "Live chat and its moderation"), (name = "schedule", description = "Streams planned ahead and their calendars"), (name = "replays", description = "Recordings of past streams"), (name = "livekit", description = "Called by livekit-server"))
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_viewer_pages_copy_of_the_openapi_document_matches_the_server() {
        let committed =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/viewer/openapi.json");
        let fresh = ApiDoc::openapi().to_pretty_json().unwrap() + "\n";
        if std::env::var_os("ONAIR_WRITE_OPENAPI").is_some() {
            std::fs::write(&committed, &fresh).unwrap();
        }
        let current = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            current == fresh,
            "ui/src/viewer/openapi.json is out of date: run `ONAIR_WRITE_OPENAPI=1 cargo test -p onair-server openapi`, then `npm --prefix ui run gen:api`"
        );
    }
}
