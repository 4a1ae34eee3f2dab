// The viewer page, /live/{username}. The server only serves it for a streamer who exists;
// this script asks whether they are live, follows the viewer count over server-sent events,
// and watches through livekit-client. Every timer, the events stream and the room are opened
// through one Scope, closed when the stream ends or the page is left.
import "./viewer.css";
import {
  DisconnectReason,
  Room,
  RoomEvent,
  Track,
  type RemoteTrack,
} from "livekit-client";
import { money } from "../money";
import type { components } from "./api";
import { decide, failureMessage, parseRetryAfter, type Failure, type Outcome } from "./retry";
import { mountChat } from "./chat";
import { scheduleView, localStart, type Scheduled } from "./schedule";
import { describe as describeReplay, replayPage, type Replay } from "./replays";
import { Scope, type OpenCounts } from "./scope";
import { next, type Effect, type PageEvent, type Phase } from "./state";

// The API's bodies, generated from the server's OpenAPI document (see api.test.ts).
type Schemas = components["schemas"];
type StreamSummary = Schemas["StreamSummary"];
type StreamStatus = Schemas["StreamStatus"];
type ViewerCount = Schemas["ViewerCount"];
type ViewerToken = Schemas["ViewerTokenResponse"];
type Ticket = Schemas["TicketView"];
/** An error answer, or whatever a body that was not one parsed to. */
type ApiError = Partial<Schemas["ErrorBody"]>;

declare global {
  interface Window {
    /** For tests and the benchmark: the phase, what is still open, when each step of
     * starting to watch finished (ms since navigation began). */
    onairViewer: {
      phase: () => Phase;
      /** The chat's messages and this viewer's standing. */
      chat: () => import("./chat-state").ChatState;
      open: () => OpenCounts;
      firstFrameAt: number | null;
      marks: Record<string, number>;
    };
  }
}

const username = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] ?? "");
const api = (path: string) => `/api/streams/${encodeURIComponent(username)}${path}`;

// Pay-per-view: the ticket this browser holds for the streamer is kept across reloads, so a
// reload watches again without buying again. Checkout comes back with ?ticket=…, or
// ?checkout=cancelled; both are taken off the address at once.
const TICKET_KEY = `onair.ticket.${username}`;
// Where storage is refused (some private modes), the ticket lasts as long as the page.
let ticketInPage: string | null = null;
const heldTicket = {
  get: (): string | null => {
    try {
      return localStorage.getItem(TICKET_KEY) ?? ticketInPage;
    } catch {
      return ticketInPage;
    }
  },
  set: (id: string) => {
    ticketInPage = id;
    try {
      localStorage.setItem(TICKET_KEY, id);
    } catch {
      // Kept in the page only.
    }
  },
  drop: () => {
    ticketInPage = null;
    try {
      localStorage.removeItem(TICKET_KEY);
    } catch {
      // Nothing stored.
    }
  },
};
const returned = new URLSearchParams(location.search);
const returnedTicket = returned.get("ticket");
/** Came back through checkout's success address: the payment was made, only its
 * confirmation may still be on its way. */
const backFromCheckout = !!returnedTicket && /^tk_[0-9a-f]{32}$/.test(returnedTicket);
if (backFromCheckout && returnedTicket) heldTicket.set(returnedTicket);
const checkoutCancelled = returned.get("checkout") === "cancelled";
if (location.search) history.replaceState(null, "", location.pathname);

const SKELETON = `
<header>
  <a class="brand" href="#"><span class="dot"></span>OnAir</a>
  <span id="who" class="who"></span>
  <span id="badge" class="badge">…</span>
  <span id="viewers" class="viewers" data-count="" data-stale="false"></span>
</header>
<main>
  <div class="stage">
    <video id="video" muted autoplay playsinline></video>
    <div id="overlay" class="overlay">
      <div id="spinner" class="spinner"></div>
      <h2 id="overlay-title">Loading…</h2>
      <p id="notice" data-kind=""></p>
      <p id="countdown" class="countdown" hidden></p>
      <div id="schedule-links" class="links" hidden>
        <a id="calendar" class="button" download>Add to calendar</a>
        <button id="buy-ahead" class="primary" hidden></button>
      </div>
      <button id="action" class="primary" hidden></button>
    </div>
    <button id="unmute" class="unmute" hidden>Sound is off · Unmute</button>
  </div>
  <div class="meta">
    <h1 id="title"></h1>
    <p id="subtitle"></p>
    <section id="upcoming" class="upcoming" hidden>
      <h3>Upcoming streams</h3>
      <ol id="upcoming-list"></ol>
    </section>
    <section id="replays" class="replays" hidden>
      <h3>Past streams</h3>
      <ol id="replay-list"></ol>
    </section>
  </div>
  <aside id="chat" class="chat"></aside>
</main>`;

const app = document.getElementById("app") as HTMLElement;
app.innerHTML = SKELETON;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const video = $<HTMLVideoElement>("video");

const scope = new Scope();
const chat = mountChat($("chat"), username, () => heldTicket.get());
let phase: Phase = "loading";
/** Bumped on every fresh start, so answers to an earlier attempt are ignored. */
let generation = 0;
let info: StreamSummary | null = null;
let room: Room | null = null;
let audio: HTMLMediaElement | null = null;
let muted = true;
let notice: { kind: Failure | "lost" | "load" | "payment"; text: string } | null = checkoutCancelled
  ? { kind: "payment", text: "Checkout was cancelled: nothing was charged." }
  : null;
let stopClock: (() => void) | null = null;
/** The held ticket's checkout page while its payment is awaited (someone who left checkout
 * before paying can go back to it). */
let pendingCheckout: string | null = null;
/** What a ticket costs, once the backend said so. */
let price: { cents: number; currency: string } | null = null;
/** Offline: the next stream the creator scheduled (or the one shown, once called off). */
let scheduled: Scheduled | null = null;
/** Every upcoming stream of the creator, soonest first. */
let upcoming: Scheduled[] = [];
/** The held ticket, when it is one for `scheduled`: paid, or its payment still awaited
 * (back from checkout before the provider confirmed it). */
let ticketAhead: "paid" | "awaiting" | null = null;
let stopSchedule: (() => void) | null = null;

window.onairViewer = { phase: () => phase, chat: () => chat.state(), open: () => scope.open(), firstFrameAt: null, marks: {} };
const mark = (step: string) => (window.onairViewer.marks[step] ??= performance.now());
mark("script");

function dispatch(event: PageEvent) {
  const from = phase;
  const step = next(phase, event);
  phase = step.phase;
  perform(step.effect, from);
  render();
}

function perform(effect: Effect, from: Phase) {
  switch (effect) {
    case "connect":
      notice = null;
      // Offline, the page holds the last stream's title: the new one is needed.
      if (from === "offline") void refreshInfo(generation);
      void connect(generation);
      break;
    case "leave_room":
      leaveRoom();
      break;
    case "close":
      leaveRoom();
      scope.closeAll();
      stopClock = null;
      stopSchedule = null;
      break;
    case "reload":
      leaveRoom();
      scope.closeAll();
      stopClock = null;
      stopSchedule = null;
      notice = null;
      void start();
      break;
    case "buy":
      notice = null;
      void buy(generation);
      break;
    case "await_payment":
      void awaitPayment(generation);
      break;
  }
}

/** Buys a ticket: to the provider's checkout (the page leaves), or paid at once. */
async function buy(gen: number) {
  const failed = (text: string) => {
    if (gen !== generation) return;
    notice = { kind: "payment", text };
    dispatch({ type: "purchase_failed" });
  };
  try {
    const response = await fetch(api("/tickets"), { method: "POST" });
    if (gen !== generation) return;
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as ApiError;
      if (body.error?.kind === "offline") return dispatch({ type: "live", live: false });
      if (body.error?.kind === "free") return dispatch({ type: "ticket_paid" });
      return failed(
        response.status === 429
          ? "Too many requests from your network right now. Wait a minute, then buy again."
          : `The purchase could not start (${body.error?.message ?? `error ${response.status}`}). Nothing was charged; try again.`,
      );
    }
    const ticket = (await response.json()) as Ticket;
    heldTicket.set(ticket.id);
    if (ticket.payment === "paid") return dispatch({ type: "ticket_paid" });
    if (ticket.checkout_url) return location.assign(ticket.checkout_url);
    failed("The payment provider gave no checkout page. Try again.");
  } catch {
    failed("Can't reach OnAir. Check your connection, then buy again: nothing was charged.");
  }
}

/** Back from checkout: the provider confirms the payment to OnAir on its own, usually within
 * seconds. Asks about the ticket every second for up to a minute. */
async function awaitPayment(gen: number) {
  const id = heldTicket.get();
  const deadline = performance.now() + 60_000;
  while (id && gen === generation && phase === "confirming" && performance.now() < deadline) {
    try {
      const response = await fetch(`/api/tickets/${id}`);
      if (response.status === 404) break;
      if (response.ok) {
        const ticket = (await response.json()) as Ticket;
        if (gen !== generation) return;
        if (ticket.payment === "paid") {
          pendingCheckout = null;
          return dispatch({ type: "ticket_paid" });
        }
        if (pendingCheckout !== (ticket.checkout_url ?? null)) {
          pendingCheckout = ticket.checkout_url ?? null;
          render();
        }
        if (ticket.payment === "refunded") break;
      }
    } catch {
      // Asked again below.
    }
    await scope.delay(1000);
  }
  if (gen !== generation || phase !== "confirming") return;
  notice = {
    kind: "payment",
    text: "Your payment is not confirmed yet. If you were charged, reload this page in a minute: your ticket is kept.",
  };
  dispatch({ type: "purchase_failed" });
}

async function start() {
  const gen = ++generation;
  followViewerCount();
  try {
    const response = await fetch(api(""));
    if (!response.ok) throw new Error(`status ${response.status}`);
    const status = (await response.json()) as StreamStatus;
    mark("status");
    if (gen !== generation) return;
    info = status.stream ?? null;
    scheduled = status.next_scheduled ?? null;
    dispatch({ type: "live", live: status.live });
    void loadUpcoming(gen);
  } catch {
    if (gen !== generation) return;
    notice = { kind: "load", text: "Can't reach OnAir. Check your connection, then try again." };
    dispatch({ type: "load_failed" });
  }
}

/** The count over server-sent events; EventSource reconnects by itself, and the count is
 * marked stale meanwhile. */
function followViewerCount() {
  const events = scope.eventStream(new EventSource(api("/viewers/events")));
  events.addEventListener("viewers", (message) => {
    const count = JSON.parse((message as MessageEvent<string>).data) as ViewerCount;
    const el = $("viewers");
    el.dataset.count = String(count.viewers);
    el.dataset.stale = "false";
    el.textContent = `${count.viewers} watching`;
    dispatch({ type: "live", live: count.live });
  });
  events.addEventListener("error", () => {
    $("viewers").dataset.stale = "true";
  });
}

async function connect(gen: number) {
  const token = await fetchToken(gen);
  if (!token || gen !== generation) return;
  mark("token");
  const r = new Room({ adaptiveStream: false, dynacast: false, disconnectOnPageLeave: true });
  room = r;
  scope.room({ close: () => void r.disconnect() });
  r.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => attach(track))
    .on(RoomEvent.Reconnecting, () => dispatch({ type: "room_reconnecting" }))
    .on(RoomEvent.Reconnected, () => dispatch({ type: "room_reconnected" }))
    // A creator who drops out may come back (the backend keeps the stream open meanwhile):
    // the end is the backend saying so, or LiveKit closing the room.
    .on(RoomEvent.Disconnected, (reason?: DisconnectReason) => {
      if (room !== r) return; // we left on purpose
      const ended = reason === DisconnectReason.ROOM_DELETED || reason === DisconnectReason.ROOM_CLOSED;
      if (!ended) notice = { kind: "lost", text: "The connection to the stream was lost." };
      dispatch({ type: "room_closed", ended });
    });
  try {
    await r.connect(token.url, token.token);
    mark("connected");
  } catch (err) {
    if (room !== r) return;
    notice = { kind: "lost", text: `Could not join the stream (${(err as Error).message}).` };
    dispatch({ type: "room_closed", ended: false });
  }
}

async function refreshInfo(gen: number) {
  try {
    const response = await fetch(api(""));
    if (response.ok && gen === generation) {
      info = ((await response.json()) as StreamStatus).stream ?? null;
      render();
    }
  } catch {
    // The title can wait; watching does not depend on it.
  }
}

async function fetchToken(gen: number): Promise<ViewerToken | null> {
  for (let attempt = 1; ; attempt++) {
    let outcome: Outcome;
    try {
      const ticket = heldTicket.get();
      const response = await fetch(api("/viewer-token"), {
        method: "POST",
        ...(ticket ? { headers: { "content-type": "application/json" }, body: JSON.stringify({ ticket }) } : {}),
      });
      if (response.ok) return (await response.json()) as ViewerToken;
      const error = [402, 403, 409].includes(response.status) ? ((await response.json().catch(() => ({}))) as ApiError).error : undefined;
      if (gen !== generation) return null;
      if (response.status === 402) {
        if (error?.price_cents != null) price = { cents: error.price_cents, currency: error.currency ?? "usd" };
        if (error?.kind === "payment_pending") {
          dispatch({ type: "payment_pending" });
        } else {
          // No ticket, or one that cannot watch this stream (refunded, an earlier stream's).
          if (ticket) notice = { kind: "payment", text: error?.message ?? "This ticket cannot watch this stream." };
          heldTicket.drop();
          dispatch({ type: "payment_required" });
        }
        return null;
      }
      outcome = {
        kind: "http",
        status: response.status,
        retryAfterS: parseRetryAfter(response.headers.get("retry-after")),
        errorKind: error?.kind,
      };
    } catch {
      outcome = { kind: "network" };
    }
    if (gen !== generation) return null;
    const decision = decide(attempt, outcome);
    if (decision.action === "done") continue;
    if (decision.action === "fail") {
      notice = { kind: decision.failure, text: failureMessage(decision.failure) };
      dispatch({ type: "token_failed", failure: decision.failure });
      return null;
    }
    await countdown(decision.failure, decision.delayMs);
    if (gen !== generation) return null;
  }
}

/** Says why the page waits and counts the seconds down. */
async function countdown(failure: Failure, ms: number) {
  const until = performance.now() + ms;
  const show = () => {
    notice = { kind: failure, text: failureMessage(failure, Math.max(1, Math.ceil((until - performance.now()) / 1000))) };
    render();
  };
  show();
  const stop = scope.interval(show, 1000);
  await scope.delay(ms);
  stop();
}

function attach(track: RemoteTrack) {
  if (track.kind === Track.Kind.Video) {
    mark("subscribed");
    track.attach(video);
    video.muted = true;
    video.requestVideoFrameCallback(() => {
      window.onairViewer.firstFrameAt ??= mark("first_frame");
      dispatch({ type: "playing" });
    });
  } else if (track.kind === Track.Kind.Audio) {
    audio = track.attach();
    // Browsers refuse to start sound nobody asked for: start muted, offer the button.
    audio.muted = muted;
    document.body.append(audio);
  }
}

function leaveRoom() {
  const r = room;
  room = null;
  if (!r) return;
  scope.closeRooms();
  for (const el of [video, audio]) {
    if (el) el.srcObject = null;
  }
  audio?.remove();
  audio = null;
}

$("unmute").addEventListener("click", () => {
  muted = false;
  if (audio) audio.muted = false;
  void room?.startAudio();
  render();
});
$("action").addEventListener("click", () => {
  if (phase === "confirming" && pendingCheckout) return location.assign(pendingCheckout);
  dispatch({ type: phase === "paywall" ? "buy" : "retry" });
});
window.addEventListener("pagehide", () => {
  leaveRoom();
  scope.closeAll();
  chat.close();
});

const BADGE: Record<Phase, string> = {
  loading: "…",
  offline: "OFFLINE",
  connecting: "JOINING",
  live: "LIVE",
  reconnecting: "RECONNECTING",
  ended: "ENDED",
  error: "NOT PLAYING",
  paywall: "LIVE · PAY-PER-VIEW",
  confirming: "LIVE · PAY-PER-VIEW",
};

const OVERLAY: Record<Phase, { title: string; spinner: boolean; action?: string }> = {
  loading: { title: "Loading…", spinner: true },
  offline: { title: "Not live right now", spinner: false },
  connecting: { title: "Joining the stream…", spinner: true },
  live: { title: "", spinner: false },
  reconnecting: { title: "Reconnecting…", spinner: true },
  ended: { title: "The stream has ended", spinner: false, action: "Check again" },
  error: { title: "Can't play this stream", spinner: false, action: "Try again" },
  paywall: { title: "Pay-per-view", spinner: false, action: "Buy ticket" },
  confirming: { title: "Confirming your payment…", spinner: true },
};

function paywallText(): string {
  const cost = price ? money(price.cents, price.currency) : "a ticket";
  const what = info?.title ? `“${info.title}” is` : `${username}'s stream is`;
  const lead = notice?.kind === "payment" ? `${notice.text} ` : "";
  return `${lead}${what} pay-per-view: ${cost} to watch. Your ticket stays in this browser, so you can reload or come back during the stream without paying again.`;
}

/** The creator's upcoming streams, for the list under the player. */
async function loadUpcoming(gen: number) {
  try {
    const response = await fetch(api("/schedule"));
    if (!response.ok || gen !== generation) return;
    upcoming = (await response.json()) as Scheduled[];
    await checkTicketAhead(gen);
    render();
  } catch {
    // The list is extra; the page works without it.
  }
}

/** The creator's past streams with replays, linked to their pages (once, at load: they
 * change only when a stream ends and its recording is uploaded). */
async function loadReplays() {
  try {
    const response = await fetch(api("/replays"));
    if (!response.ok) return;
    const replays = (await response.json()) as Replay[];
    $("replays").hidden = replays.length === 0;
    $("replay-list").replaceChildren(
      ...replays.map((r) => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = replayPage(username, r);
        link.textContent = r.title;
        const what = document.createElement("span");
        what.textContent = ` · ${describeReplay(r, r.currency)}`;
        item.append(link, what);
        return item;
      }),
    );
  } catch {
    // The list is extra; the page works without it.
  }
}

/** Whether the ticket this browser holds is a paid one for the scheduled stream shown. */
async function checkTicketAhead(gen: number) {
  const id = heldTicket.get();
  if (!id || !scheduled) {
    ticketAhead = null;
    return;
  }
  try {
    const response = await fetch(`/api/tickets/${id}`);
    if (!response.ok || gen !== generation) return;
    const ticket = (await response.json()) as Ticket;
    const forThis = ticket.stream_id === scheduled.id;
    ticketAhead = forThis && ticket.payment === "paid" ? "paid" : forThis && ticket.payment === "awaiting" ? "awaiting" : null;
  } catch {
    // Shown as not held; buying again is refused nothing.
  }
}

/** Offline with a stream scheduled: tick the countdown each second, and ask about the
 * stream every 15 s (called off, or a later start). Going live arrives with the count. */
function followSchedule() {
  const showing = phase === "offline" && !!scheduled;
  if (!showing) {
    stopSchedule?.();
    stopSchedule = null;
    return;
  }
  if (stopSchedule) return;
  const gen = generation;
  const stopTick = scope.interval(() => renderSchedule(), 1000);
  const stopPoll = scope.interval(() => void refreshScheduled(gen), 15_000);
  stopSchedule = () => {
    stopTick();
    stopPoll();
  };
}

async function refreshScheduled(gen: number) {
  const id = scheduled?.id;
  if (id == null) return;
  try {
    const response = await fetch(`/api/schedule/${id}`);
    if (!response.ok || gen !== generation) return;
    const fresh = (await response.json()) as Scheduled;
    if (fresh.state === "scheduled" || fresh.state === "cancelled" || fresh.state === "missed") scheduled = fresh;
    if (ticketAhead === "awaiting") await checkTicketAhead(gen);
    render();
  } catch {
    // Asked again in 15 s.
  }
}

/** Buys a ticket for the scheduled stream before it starts: to checkout, or paid at once. */
async function buyAhead() {
  const s = scheduled;
  if (!s) return;
  const button = $<HTMLButtonElement>("buy-ahead");
  button.disabled = true;
  try {
    const response = await fetch(api(`/tickets?stream_id=${s.id}`), { method: "POST" });
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as ApiError;
      notice = { kind: "payment", text: `The purchase could not start (${body.error?.message ?? `error ${response.status}`}). Nothing was charged; try again.` };
      return;
    }
    const ticket = (await response.json()) as Ticket;
    heldTicket.set(ticket.id);
    if (ticket.payment === "paid") {
      ticketAhead = "paid";
      notice = null;
    } else if (ticket.checkout_url) {
      return location.assign(ticket.checkout_url);
    }
  } catch {
    notice = { kind: "payment", text: "Can't reach OnAir. Check your connection, then buy again: nothing was charged." };
  } finally {
    button.disabled = false;
    render();
  }
}
$("buy-ahead").addEventListener("click", () => void buyAhead());

/** The overlay's scheduled-stream part and the upcoming list. */
function renderSchedule() {
  const s = phase === "offline" ? scheduled : null;
  const view = s ? scheduleView(s, Date.now()) : null;
  app.dataset.schedule = view?.kind ?? "";
  $("countdown").hidden = !view?.countdown;
  $("countdown").textContent = view?.countdown ? `Starts ${view.countdown}` : "";
  $("schedule-links").hidden = !view || view.kind === "cancelled" || view.kind === "missed";
  if (s && view) {
    $("overlay-title").textContent = view.heading;
    const lead = notice?.kind === "payment" ? `${notice.text} ` : "";
    const ticket =
      ticketAhead === "paid"
        ? " You have a ticket: this page plays by itself when the stream starts."
        : ticketAhead === "awaiting"
          ? " Your ticket's payment is being confirmed: no need to buy again."
          : "";
    const detail =
      view.kind === "upcoming"
        ? `${view.when}. This page starts playing by itself when ${username} goes live.`
        : view.kind === "soon"
          ? `Planned for ${view.when}. ${username} will be live any moment: this page starts playing by itself.`
          : view.kind === "cancelled"
            ? `“${s.title}”, planned for ${view.when}, was called off.${s.ppv_price_cents != null ? " Tickets bought for it are refunded." : ""}`
            : `“${s.title}” was planned for ${view.when}.`;
    $("notice").textContent = `${lead}${detail}${view.kind === "upcoming" || view.kind === "soon" ? ticket : ""}`;
    $<HTMLAnchorElement>("calendar").href = `/live/${encodeURIComponent(username)}/schedule/${s.id}.ics`;
    const buy = $<HTMLButtonElement>("buy-ahead");
    const priced = s.ppv_price_cents != null && (view.kind === "upcoming" || view.kind === "soon");
    buy.hidden = !priced || ticketAhead !== null;
    buy.textContent = priced ? `Buy ticket · ${money(s.ppv_price_cents ?? 0, s.currency)}` : "";
    $("title").textContent = view.kind === "upcoming" || view.kind === "soon" ? s.title : "";
    $("subtitle").textContent = s.description;
  }
  const list = $("upcoming-list");
  const shown = upcoming;
  $("upcoming").hidden = shown.length === 0;
  list.replaceChildren(
    ...shown.map((u) => {
      const item = document.createElement("li");
      const when = document.createElement("time");
      when.dateTime = new Date(u.starts_at).toISOString();
      when.textContent = localStart(u.starts_at);
      const title = document.createElement("span");
      title.textContent = ` ${u.title}${u.ppv_price_cents != null ? ` · ${money(u.ppv_price_cents, u.currency)}` : ""} `;
      const link = document.createElement("a");
      link.href = `/live/${encodeURIComponent(username)}/schedule/${u.id}.ics`;
      link.textContent = "Add to calendar";
      item.append(when, title, link);
      return item;
    }),
  );
}

function render() {
  app.dataset.state = phase;
  document.title = info?.title && phase !== "offline" ? `${info.title} · ${username} · OnAir` : `${username} · OnAir`;
  $("who").textContent = username;
  $("badge").textContent = phase === "offline" && scheduled?.state === "scheduled" ? "SCHEDULED" : BADGE[phase];
  const overlay = OVERLAY[phase];
  $("overlay").hidden = phase === "live";
  $("overlay-title").textContent = overlay.title;
  $("spinner").hidden = !overlay.spinner;
  // Confirming without having come back from checkout's success page: maybe checkout was
  // left before paying; offer the way back to it.
  const backToCheckout = phase === "confirming" && !backFromCheckout && !!pendingCheckout;
  $("action").hidden = !overlay.action && !backToCheckout;
  $("action").textContent = backToCheckout
    ? "Back to checkout"
    : phase === "paywall" && price
      ? `Buy ticket · ${money(price.cents, price.currency)}`
      : (overlay.action ?? "");
  app.dataset.priceCents = price ? String(price.cents) : "";
  $("notice").dataset.kind = notice?.kind ?? "";
  $("notice").textContent =
    phase === "offline"
      ? offlineText()
      : phase === "ended"
        ? "Thanks for watching."
        : phase === "paywall"
          ? paywallText()
          : phase === "confirming"
            ? backFromCheckout
              ? "Waiting for the payment provider to confirm your ticket. This usually takes a few seconds."
              : "Your ticket's payment is not confirmed yet. If you paid, this page plays as soon as it is; if you left checkout before paying, go back to it."
            : (notice?.text ?? "");
  $("unmute").hidden = phase !== "live" || !muted;
  // Offline, the last stream's title is part of the notice.
  $("title").textContent = phase === "offline" ? "" : (info?.title ?? "");
  $("badge").dataset.paid = String(phase === "paywall" || phase === "confirming");
  renderClock();
  renderSchedule();
  followSchedule();
}

function offlineText(): string {
  if (!info?.started_at) return `${username} hasn't streamed yet. This page starts playing when they go live.`;
  const when = info.ended_at ?? info.started_at;
  const at = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(when);
  return `Last live ${relative(when)} (${at})${info.title ? ` — “${info.title}”` : ""}. This page starts playing when ${username} goes live again.`;
}

function relative(ms: number): string {
  const seconds = Math.round((ms - Date.now()) / 1000);
  if (Math.abs(seconds) < 60) return "moments ago";
  const format = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  const units: [Intl.RelativeTimeFormatUnit, number][] = [["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

/** "Live for 00:03:12" while watching, ticking once a second. */
function renderClock() {
  const sub = $("subtitle");
  const started = info?.started_at;
  if (phase !== "live" || !started) {
    stopClock?.();
    stopClock = null;
    sub.textContent = "";
    return;
  }
  const tick = () => {
    const s = Math.max(0, Math.floor((Date.now() - started) / 1000));
    const hh = String(Math.floor(s / 3600)).padStart(2, "0");
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    sub.textContent = `Live for ${hh}:${mm}:${ss}`;
  };
  tick();
  stopClock ??= scope.interval(tick, 1000);
}

render();
void start();
void loadReplays();
