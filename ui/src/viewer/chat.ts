// The viewer page's chat panel: the name prompt, live messages, the viewer's standing, the
// input. Messages come over server-sent events (EventSource resumes with Last-Event-ID by
// itself, so nothing is missed across a dropped connection) and are always rendered as
// text, never as markup. Opened once per page through its own Scope; the page closes it.
import { apply, canSend, initial, refusalText, statusLine, type ChatEvent, type ChatState } from "./chat-state";
import { parseRetryAfter } from "./retry";
import { Scope } from "./scope";

const NAME_KEY = "onair.chat.name";

const PANEL = `
<h2 class="chat-title">Chat</h2>
<ol id="chat-messages" class="chat-messages" aria-live="polite"></ol>
<p id="chat-status" class="chat-status" hidden></p>
<p id="chat-error" class="chat-error" role="alert" hidden></p>
<form id="chat-form" class="chat-form" autocomplete="off">
  <input id="chat-name" class="chat-name" placeholder="Your name" maxlength="32" autocomplete="nickname" aria-label="Your chat name" />
  <div class="chat-row">
    <input id="chat-text" class="chat-text" placeholder="Say something…" maxlength="500" aria-label="Message" />
    <button id="chat-send" type="submit">Send</button>
  </div>
</form>`;

export interface ChatPanel {
  close(): void;
  /** For tests: the messages shown and the standing. */
  state(): ChatState;
}

/** Mounts the chat of `username` in `root`; `ticket` gives the held pay-per-view ticket. */
export function mountChat(root: HTMLElement, username: string, ticket: () => string | null): ChatPanel {
  root.innerHTML = PANEL;
  const $ = <T extends HTMLElement>(id: string) => root.querySelector(`#${id}`) as T;
  const list = $<HTMLOListElement>("chat-messages");
  const nameInput = $<HTMLInputElement>("chat-name");
  const textInput = $<HTMLInputElement>("chat-text");
  const send = $<HTMLButtonElement>("chat-send");
  const scope = new Scope();
  let state: ChatState = initial;
  let error: string | null = null;
  let sending = false;

  try {
    nameInput.value = localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    // No storage: the name is asked again on the next visit.
  }

  const base = `/api/streams/${encodeURIComponent(username)}/chat`;
  const events = scope.eventStream(new EventSource(`${base}/events`));
  const on = (name: string, toEvent: (data: unknown) => ChatEvent) =>
    events.addEventListener(name, (e) => {
      state = apply(state, toEvent(JSON.parse((e as MessageEvent<string>).data)));
      render();
    });
  on("message", (data) => ({ type: "message", message: data as never }));
  on("hidden", (data) => ({ type: "hidden", hidden: data as never }));
  on("mode", (data) => ({ type: "mode", mode: data as never }));
  on("standing", (data) => ({ type: "standing", standing: data as never }));
  on("reset", () => ({ type: "reset" }));
  events.addEventListener("open", () => root.removeAttribute("data-stale"));
  events.addEventListener("error", () => root.setAttribute("data-stale", "true"));
  // A timeout counts down on screen and the input opens again by itself.
  scope.interval(render, 1000);

  $<HTMLFormElement>("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void post();
  });

  async function post() {
    const name = nameInput.value.trim();
    const text = textInput.value;
    if (sending || !text.trim()) return;
    if (!name) {
      error = "Pick a name first: 3–32 letters, digits, _ or -.";
      nameInput.focus();
      return render();
    }
    sending = true;
    render();
    try {
      const held = ticket();
      const response = await fetch(base, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name, text, ...(held ? { ticket: held } : {}) }),
      });
      if (response.ok) {
        error = null;
        textInput.value = "";
        try {
          localStorage.setItem(NAME_KEY, name);
        } catch {
          // Kept in the input only.
        }
      } else {
        const body = (await response.json().catch(() => ({}))) as { error?: { kind?: string; message?: string; field?: string } };
        const wait = parseRetryAfter(response.headers.get("retry-after"));
        error = refusalText(body.error?.kind, body.error?.message, wait);
        if (body.error?.field === "name" || body.error?.kind === "name_taken") nameInput.focus();
      }
    } catch {
      error = "Can't reach OnAir. Check your connection; your message is still in the box.";
    } finally {
      sending = false;
      render();
    }
  }

  function render() {
    const now = Date.now();
    // Rebuilt only when the messages changed: ids say it.
    const shown = Array.from(list.children, (li) => (li as HTMLElement).dataset.id).join(",");
    const wanted = state.messages.map((m) => String(m.id)).join(",");
    if (shown !== wanted) {
      const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
      list.replaceChildren(
        ...state.messages.map((m) => {
          const li = document.createElement("li");
          li.dataset.id = String(m.id);
          const who = document.createElement("span");
          who.className = "chat-who";
          who.textContent = m.name;
          const said = document.createElement("span");
          said.className = "chat-said";
          said.textContent = m.text;
          li.append(who, said);
          return li;
        }),
      );
      if (atBottom) list.scrollTop = list.scrollHeight;
    }
    const status = statusLine(state, now);
    $("chat-status").hidden = !status;
    $("chat-status").textContent = status ?? "";
    $("chat-error").hidden = !error;
    $("chat-error").textContent = error ?? "";
    const open = canSend(state, now);
    root.dataset.standing = state.standing.state;
    textInput.disabled = !open;
    send.disabled = !open || sending;
  }

  render();
  return {
    close: () => scope.closeAll(),
    state: () => state,
  };
}
