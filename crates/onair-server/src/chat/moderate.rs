//! The creator's moderation: hiding a message, timeouts, bans (reaching LiveKit and the
//! banned viewer's tickets), unbans and the chat's settings. Each action is logged.

use onair_core::wire::chat::{
    BanOutcome, BanRequest, ChatMode, ChatSettings, ChatStanding, TimeoutRequest,
};
use onair_core::FieldError;

use super::{store, ChatError, ChatEvent, ADDRESS_BAN_MS, REACH};
use crate::db::{self, Streamer};
use crate::live::now_ms;
use crate::moderation::{self, BlockedTerms, ChatRules};
use crate::{room_name, AppState};

async fn author_of(
    state: &AppState,
    streamer: &Streamer,
    message_id: i64,
) -> Result<store::Author, ChatError> {
    store::author(&state.db, streamer.id, message_id)
        .await?
        .ok_or_else(|| {
            ChatError::NotFound(format!("there is no message {message_id} in your chat"))
        })
}

/// Takes a message down everywhere; safe to repeat.
pub async fn hide(state: &AppState, streamer: &Streamer, message_id: i64) -> Result<(), ChatError> {
    let author = author_of(state, streamer, message_id).await?;
    let room = state.chat.room(streamer.id);
    let _order = room.order.lock().await;
    let now = now_ms();
    let Some(id) = store::hide(&state.db, &author, now).await? else {
        return Ok(());
    };
    room.send(ChatEvent::Hidden { id, message_id });
    store::log(
        &state.db,
        streamer.id,
        &store::LogEntry {
            action: "hide",
            name: Some(&author.name),
            message_id: Some(message_id),
            detail: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Times out the author of a message; answers until when (Unix ms).
pub async fn time_out(
    state: &AppState,
    streamer: &Streamer,
    request: &TimeoutRequest,
) -> Result<i64, ChatError> {
    let seconds = moderation::timeout_secs(request.seconds)?;
    let author = author_of(state, streamer, request.message_id).await?;
    let now = now_ms();
    let until = now + (seconds as i64) * 1000;
    store::time_out(&state.db, streamer.id, &author.device, until).await?;
    state.chat.room(streamer.id).send(ChatEvent::Standing {
        device: author.device.clone(),
        standing: ChatStanding::TimedOut { until },
    });
    store::log(
        &state.db,
        streamer.id,
        &store::LogEntry {
            action: "timeout",
            name: Some(&author.name),
            message_id: Some(request.message_id),
            detail: Some(&format!("{seconds} s")),
        },
        now,
    )
    .await?;
    Ok(until)
}

/// Bans the author of a message: their device and (unless shared) address, from the chat and
/// from watching; removes their LiveKit participants; refunds or forfeits their tickets.
pub async fn ban(
    state: &AppState,
    streamer: &Streamer,
    request: &BanRequest,
) -> Result<BanOutcome, ChatError> {
    let reason = match request.reason.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(reason) => Some(onair_core::validate::title(reason).map_err(|e| FieldError {
            field: "reason",
            message: e.message,
        })?),
    };
    let author = author_of(state, streamer, request.message_id).await?;
    let now = now_ms();
    let ban = store::ban(
        &state.db,
        &store::NewBan {
            streamer_id: streamer.id,
            device: &author.device,
            address_hash: author.address_hash.as_deref(),
            address_expires_at: now + ADDRESS_BAN_MS,
            name: &author.name,
            reason: reason.as_deref(),
            now_ms: now,
        },
    )
    .await?;
    state.chat.room(streamer.id).send(ChatEvent::Standing {
        device: author.device.clone(),
        standing: ChatStanding::Banned,
    });
    let removed_viewers = remove_viewers(state, streamer, &author).await?;
    let (refunded_tickets, forfeited_tickets) =
        settle_tickets(state, &author, request.refund).await?;
    store::log(
        &state.db,
        streamer.id,
        &store::LogEntry {
            action: "ban",
            name: Some(&author.name),
            message_id: Some(request.message_id),
            detail: reason.as_deref(),
        },
        now,
    )
    .await?;
    Ok(BanOutcome {
        ban,
        removed_viewers,
        refunded_tickets,
        forfeited_tickets,
    })
}

/// A banned viewer's paid tickets for the stream they chatted in: refunded through the
/// payment provider when the creator asked (and the ticket was bought through the provider in
/// use), otherwise forfeited. Either way they admit nobody any more.
async fn settle_tickets(
    state: &AppState,
    author: &store::Author,
    refund: bool,
) -> Result<(u32, u32), ChatError> {
    let tickets = db::paid_tickets_of_device(&state.db, author.stream_id, &author.device).await?;
    let (mut refunded, mut forfeited) = (0, 0);
    for row in tickets {
        if refund && row.provider == state.payments.name() {
            state
                .payments
                .refund(&row.id, row.payment_ref.as_deref())
                .await?;
            if db::record_refund(&state.db, &row.id, now_ms()).await? {
                refunded += 1;
            }
        } else if db::forfeit(&state.db, &row.id).await? {
            if refund {
                tracing::warn!(
                    provider = row.provider,
                    "a banned viewer's ticket was bought through another provider: forfeited, not refunded"
                );
            }
            forfeited += 1;
        }
    }
    Ok((refunded, forfeited))
}

/// Removes from the stream every LiveKit participant a viewer token was issued to for the
/// banned device or address (the newest [`REACH`] of them: a connected viewer keeps its
/// participant for as long as it watches; one that joins later with an older token is caught
/// by [`on_join`]).
async fn remove_viewers(
    state: &AppState,
    streamer: &Streamer,
    author: &store::Author,
) -> Result<u32, ChatError> {
    let identities = store::identities_of(
        &state.db,
        streamer.id,
        &author.device,
        author.address_hash.as_deref(),
        REACH,
    )
    .await?;
    let room = room_name(&streamer.username);
    let removals = identities
        .iter()
        .map(|identity| state.hub.remove_participant(&room, identity));
    let mut removed = 0;
    for (identity, result) in identities
        .iter()
        .zip(futures::future::join_all(removals).await)
    {
        match result {
            Ok(()) => removed += 1,
            // Not in the room (never joined, or left): nothing to remove.
            Err(err) => tracing::debug!(identity, error = %err, "remove_participant"),
        }
    }
    Ok(removed)
}

/// LiveKit says `identity` joined `room`: a viewer whose device or address is banned is
/// removed again (an older token, issued before the ban).
pub async fn on_join(state: &AppState, room: &str, identity: &str) -> Result<(), ChatError> {
    let Some((streamer_id, device, address_hash)) =
        store::viewer_device(&state.db, identity).await?
    else {
        return Ok(());
    };
    if store::banned(
        &state.db,
        streamer_id,
        &device,
        address_hash.as_deref(),
        now_ms(),
    )
    .await?
    {
        tracing::info!(room, identity, "a banned viewer joined: removing them");
        state.hub.remove_participant(room, identity).await?;
    }
    Ok(())
}

/// Lifts a ban.
pub async fn unban(state: &AppState, streamer: &Streamer, ban_id: i64) -> Result<(), ChatError> {
    let now = now_ms();
    let Some((device, name)) = store::unban(&state.db, streamer.id, ban_id, now).await? else {
        return Err(ChatError::NotFound(format!(
            "there is no ban {ban_id} in force"
        )));
    };
    state.chat.room(streamer.id).send(ChatEvent::Standing {
        device,
        standing: ChatStanding::Welcome,
    });
    store::log(
        &state.db,
        streamer.id,
        &store::LogEntry {
            action: "unban",
            name: Some(&name),
            message_id: None,
            detail: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// The settings as a creator reads them back.
pub fn settings_of(rules: &ChatRules) -> ChatSettings {
    ChatSettings {
        slow_mode_secs: rules.slow_mode_secs,
        established_minutes: rules.established_minutes,
        blocked_terms: rules.blocked.terms().to_vec(),
    }
}

pub fn mode_of(rules: &ChatRules) -> ChatMode {
    ChatMode {
        slow_mode_secs: rules.slow_mode_secs,
        established_minutes: rules.established_minutes,
    }
}

/// Replaces the creator's settings; answers them as stored.
pub async fn set_settings(
    state: &AppState,
    streamer: &Streamer,
    settings: &ChatSettings,
) -> Result<ChatSettings, ChatError> {
    moderation::settings(settings.slow_mode_secs, settings.established_minutes)?;
    let rules = ChatRules {
        slow_mode_secs: settings.slow_mode_secs,
        established_minutes: settings.established_minutes,
        blocked: BlockedTerms::new(&settings.blocked_terms)?,
    };
    store::save_rules(&state.db, streamer.id, &rules).await?;
    state
        .chat
        .room(streamer.id)
        .send(ChatEvent::Mode(mode_of(&rules)));
    let detail = format!(
        "slow mode {} s, established {} min, {} blocked terms",
        rules.slow_mode_secs,
        rules.established_minutes,
        rules.blocked.terms().len()
    );
    store::log(
        &state.db,
        streamer.id,
        &store::LogEntry {
            action: "settings",
            name: None,
            message_id: None,
            detail: Some(&detail),
        },
        now_ms(),
    )
    .await?;
    Ok(settings_of(&rules))
}
