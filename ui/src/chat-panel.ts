// The studio's chat panel: the stream's chat as the app follows it (its own event, apart from
// the studio's view), moderation on each message (hide, time out, ban), and the chat's
// settings, bans and moderation log. Every text from viewers is set as text, never as markup.
import { commands, events, type ChatPanelView, type UiError_Serialize as UiError } from "./bindings";
import { timeoutLabel, TIMEOUTS, blockedTerms, chatStatus } from "./chat-rules";

export const CHAT_CARD = `
<div class="card chat" id="chat-card" data-open="false">
  <div class="label">Chat <span id="chat-status" class="note"></span></div>
  <ol id="chat-lines" class="chat-lines" aria-live="polite"></ol>
  <div id="chat-empty" class="note">Messages appear here while you are live.</div>
  <div id="chat-error" class="field-error" role="alert"></div>
  <details id="chat-moderation">
    <summary>Moderation</summary>
    <label>Time out for <select id="timeout-length"></select></label>
    <label>Slow mode (seconds between one viewer's messages, 0 is off)
      <input id="slow-mode" type="number" min="0" max="3600" step="1"></label>
    <div class="field-error" id="slow_mode_secs-error"></div>
    <label>Only viewers who have watched this many minutes may chat (0 is off)
      <input id="established" type="number" min="0" max="1440" step="1"></label>
    <div class="field-error" id="established_minutes-error"></div>
    <label>Blocked words (one per line)<textarea id="blocked-terms" rows="3"></textarea></label>
    <div class="field-error" id="blocked_terms-error"></div>
    <div class="buttons"><button id="save-chat-settings">Save chat settings</button>
      <span id="chat-settings-saved" class="note"></span></div>
    <div class="label">Bans</div>
    <ul id="bans" class="bans"></ul>
    <div class="label">Moderation log</div>
    <ol id="moderation-log" class="steps"></ol>
  </details>
  <dialog id="ban-dialog">
    <form method="dialog">
      <p>Ban <strong id="ban-name"></strong> from your chat and streams?</p>
      <label>Reason (only you see it) <input id="ban-reason" maxlength="100"></label>
      <div class="field-error" id="reason-error"></div>
      <label class="check"><input id="ban-refund" type="checkbox"> Refund their ticket if they paid
        (otherwise it is forfeited)</label>
      <div class="buttons">
        <button id="ban-confirm" value="ban" class="primary">Ban</button>
        <button id="ban-cancel" value="cancel">Cancel</button>
      </div>
    </form>
  </dialog>
</div>`;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let panel: ChatPanelView | null = null;
let banTarget: number | null = null;

function setText(id: string, value: string) {
  const el = $(id);
  if (el.textContent !== value) el.textContent = value;
}

function showError(error: UiError | null) {
  for (const field of ["slow_mode_secs", "established_minutes", "blocked_terms", "reason"]) {
    setText(`${field}-error`, error?.field === field ? error.message : "");
  }
  setText("chat-error", error && !error.field ? error.message : "");
}

// Ids and times arrive as nullable numbers (floats are, in the generated types); a message
// always has them.
function button(label: string, action: string, id: number | null): HTMLButtonElement {
  const b = document.createElement("button");
  b.textContent = label;
  b.className = "small";
  b.dataset.action = action;
  b.dataset.id = String(id);
  return b;
}

function render(next: ChatPanelView) {
  panel = next;
  const card = $("chat-card");
  card.dataset.open = String(next.open);
  card.dataset.unread = String(next.unread);
  setText("chat-status", chatStatus(next));
  const list = $("chat-lines");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
  list.replaceChildren(
    ...next.lines.map((line) => {
      const li = document.createElement("li");
      li.dataset.id = String(line.id);
      const name = document.createElement("span");
      name.className = "chat-name";
      name.textContent = line.name;
      const text = document.createElement("span");
      text.className = "chat-text";
      text.textContent = line.text;
      const actions = document.createElement("span");
      actions.className = "chat-actions";
      actions.append(button("Hide", "hide", line.id), button("Time out", "timeout", line.id), button("Ban", "ban", line.id));
      li.append(name, text, actions);
      return li;
    }),
  );
  $("chat-empty").hidden = next.lines.length > 0;
  if (atBottom) list.scrollTop = list.scrollHeight;
  markSeen();
}

// The creator sees the panel whenever the window is shown: what arrived is read.
function markSeen() {
  if (panel && panel.unread > 0 && document.visibilityState === "visible") commands.chatSeen();
}

async function moderate(action: string, id: number) {
  showError(null);
  if (action === "hide") {
    const r = await commands.hideMessage(id);
    if (r.status === "error") showError(r.error);
  } else if (action === "timeout") {
    const seconds = Number($<HTMLSelectElement>("timeout-length").value);
    const r = await commands.timeOut(id, seconds);
    if (r.status === "error") showError(r.error);
    else setText("chat-settings-saved", `Timed out for ${timeoutLabel(seconds)}.`);
  } else if (action === "ban") {
    banTarget = id;
    setText("ban-name", panel?.lines.find((l) => l.id === id)?.name ?? "this viewer");
    $<HTMLInputElement>("ban-reason").value = "";
    $<HTMLInputElement>("ban-refund").checked = false;
    $<HTMLDialogElement>("ban-dialog").showModal();
  }
  await refreshModeration();
}

async function confirmBan() {
  if (banTarget === null) return;
  const id = banTarget;
  banTarget = null;
  const reason = $<HTMLInputElement>("ban-reason").value;
  const r = await commands.ban(id, $<HTMLInputElement>("ban-refund").checked, reason.trim() ? reason : null);
  if (r.status === "error") showError(r.error);
  else {
    const o = r.data;
    const parts = [`Banned ${o.ban.name}`];
    if (o.removed_viewers) parts.push(`removed from the stream`);
    if (o.refunded_tickets) parts.push(`${o.refunded_tickets} ticket refunded`);
    if (o.forfeited_tickets) parts.push(`${o.forfeited_tickets} ticket forfeited`);
    setText("chat-settings-saved", `${parts.join(", ")}.`);
  }
  await refreshModeration();
}

async function refreshModeration() {
  const [settings, bans, log] = await Promise.all([commands.chatSettings(), commands.bans(), commands.moderationLog()]);
  if (settings.status === "ok" && document.activeElement?.closest("#chat-moderation") === null) {
    $<HTMLInputElement>("slow-mode").value = String(settings.data.slow_mode_secs);
    $<HTMLInputElement>("established").value = String(settings.data.established_minutes);
    $<HTMLTextAreaElement>("blocked-terms").value = settings.data.blocked_terms.join("\n");
  }
  if (bans.status === "ok") {
    $("bans").replaceChildren(
      ...bans.data.map((b) => {
        const li = document.createElement("li");
        li.textContent = `${b.name}${b.address ? " (device and address)" : " (device)"}${b.reason ? ` · ${b.reason}` : ""} `;
        li.append(button("Unban", "unban", b.id));
        return li;
      }),
    );
  }
  if (log.status === "ok") {
    $("moderation-log").replaceChildren(
      ...log.data.map((e) => {
        const li = document.createElement("li");
        li.textContent = `${new Date(e.at_ms ?? 0).toLocaleTimeString()} · ${e.action}${e.name ? ` ${e.name}` : ""}${e.detail ? ` · ${e.detail}` : ""}`;
        return li;
      }),
    );
  }
}

async function saveSettings() {
  showError(null);
  const r = await commands.saveChatSettings({
    slow_mode_secs: Number($<HTMLInputElement>("slow-mode").value || 0),
    established_minutes: Number($<HTMLInputElement>("established").value || 0),
    blocked_terms: blockedTerms($<HTMLTextAreaElement>("blocked-terms").value),
  });
  if (r.status === "error") showError(r.error);
  else setText("chat-settings-saved", "Saved.");
  await refreshModeration();
}

export async function startChat(signedIn: () => boolean) {
  const length = $<HTMLSelectElement>("timeout-length");
  length.replaceChildren(
    ...TIMEOUTS.map((s) => {
      const o = document.createElement("option");
      o.value = String(s);
      o.textContent = timeoutLabel(s);
      return o;
    }),
  );
  length.value = "300";
  $("chat-lines").addEventListener("click", (event) => {
    const target = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-action]");
    if (target) moderate(target.dataset.action!, Number(target.dataset.id));
  });
  $("bans").addEventListener("click", async (event) => {
    const target = (event.target as HTMLElement).closest<HTMLButtonElement>("button[data-action=unban]");
    if (!target) return;
    const r = await commands.unban(Number(target.dataset.id));
    if (r.status === "error") showError(r.error);
    await refreshModeration();
  });
  $<HTMLDialogElement>("ban-dialog").addEventListener("close", () => {
    if ($<HTMLDialogElement>("ban-dialog").returnValue === "ban") confirmBan();
    else banTarget = null;
  });
  $("save-chat-settings").addEventListener("click", saveSettings);
  $("chat-moderation").addEventListener("toggle", () => {
    if ($<HTMLDetailsElement>("chat-moderation").open && signedIn()) refreshModeration();
  });
  document.addEventListener("visibilitychange", markSeen);
  await events.chatUpdated.listen((event) => render(event.payload));
  render(await commands.chatView());
}
