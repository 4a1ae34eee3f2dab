// The studio window. It renders the one StudioView the app sends on every change and calls
// the generated commands; it holds no stream state of its own.
import { money } from "./money";
import { CHAT_CARD, startChat } from "./chat-panel";
import { SCHEDULE_CARD, renderSchedule, startSchedule } from "./schedule-panel";
import { RECORDINGS_CARD, renderRecordings, startRecordings } from "./recordings-panel";
import { convertFileSrc } from "@tauri-apps/api/core";
import {
  commands,
  events,
  type DeviceList,
  type StudioSettings,
  type StudioView_Serialize as StudioView,
  type UiError_Serialize as UiError,
} from "./bindings";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const SKELETON = `
<header>
  <div class="brand"><span class="dot"></span>OnAir</div>
  <div id="phase" class="phase" data-phase="offline">Offline</div>
  <div id="who" class="who" hidden><span id="who-name"></span>
    <button id="sign-out" class="link">Sign out</button></div>
</header>
<div id="banner" class="banner" hidden>
  <span id="banner-text"></span>
  <button id="banner-action"></button>
</div>
<main>
  <section id="signin" class="card signin" hidden>
    <h1>Sign in</h1>
    <p>Your API key stays in this computer's keyring.</p>
    <label>Backend address <input id="backend-url" placeholder="http://127.0.0.1:8080" autocomplete="off"></label>
    <div class="field-error" id="backend_url-error"></div>
    <label>API key <input id="api-key" type="password" autocomplete="off"></label>
    <div class="field-error" id="api_key-error"></div>
    <button id="sign-in" class="primary">Sign in</button>
  </section>
  <section id="studio" class="studio" hidden>
    <div class="left">
      <div class="preview card">
        <canvas id="preview" width="384" height="216" data-frames="0"></canvas>
        <div id="preview-label" class="preview-label">Test pattern</div>
      </div>
      <div class="controls">
        <div class="card">
          <label>Camera <select id="video-select"></select></label>
          <label>Microphone <select id="audio-select"></select></label>
          <div class="meter" title="Sound level"><div id="mic-meter" class="meter-fill" data-level="none"></div></div>
          <div id="mic-level" class="note" data-rms="">no sound</div>
          <div id="device-notes" class="note"></div>
        </div>
        <div class="card">
          <label>Title <input id="title" maxlength="200"></label>
          <div class="field-error" id="title-error"></div>
          <label>Pay-per-view price <input id="price" placeholder="free" inputmode="decimal"></label>
          <div class="field-error" id="ppv_price-error"></div>
          <label class="check"><input id="record" type="checkbox"> Record while live (uploaded as the replay after End)</label>
          <div class="buttons">
            <button id="go-live" class="primary">Go Live</button>
            <button id="end-stream" class="danger">End Stream</button>
          </div>
          <div class="note" id="go-live-scheduled" hidden></div>
          <div class="note recording-live" id="recording-live" hidden></div>
        </div>
      </div>
    </div>
    <div class="right">
      <div class="card viewers">
        <div class="label">Viewers</div>
        <div id="viewers" class="big" data-count="">–</div>
        <div id="viewers-fresh" class="note"></div>
      </div>
      <div class="card" id="earnings-card" hidden>
        <div class="label">Pay-per-view earnings</div>
        <div id="earnings" class="big" data-total-cents=""></div>
        <div id="earnings-latest" class="note"></div>
      </div>
      ${RECORDINGS_CARD}
      ${CHAT_CARD}
      ${SCHEDULE_CARD}
      <div class="card"><div class="label">Going live</div><ol id="timeline" class="steps"></ol></div>
      <div class="card"><div class="label">Stream health</div><dl id="stats" class="stats"></dl></div>
      <div class="card" id="notices-card" hidden><div class="label">What happened</div><ul id="notices"></ul></div>
      <div class="card" id="report-card" hidden>
        <div class="label">Teardown report <span id="report-summary"></span></div>
        <ol id="report" class="steps"></ol>
      </div>
    </div>
  </section>
</main>`;

let view: StudioView | null = null;
let lastPhase = "";
let devices: DeviceList = { cameras: [], microphones: [], notes: [] };
let fieldErrors: UiError[] = [];

function text(id: string, value: string) {
  const el = $(id);
  if (el.textContent !== value) el.textContent = value;
}

function li(content: string, cls?: string): HTMLLIElement {
  const el = document.createElement("li");
  el.textContent = content;
  if (cls) el.className = cls;
  return el;
}

function option(value: string, label: string): HTMLOptionElement {
  const el = document.createElement("option");
  el.value = value;
  el.textContent = label;
  return el;
}

const PHASE_TEXT: Record<string, string> = {
  offline: "Offline",
  preparing: "Preparing…",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  ending: "Ending…",
};

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function settingsFromForm(): StudioSettings {
  const video = $<HTMLSelectElement>("video-select").value;
  const audio = $<HTMLSelectElement>("audio-select").value;
  return {
    video: video === "test_pattern" ? { kind: "test_pattern" } : { kind: "camera", id: video.slice(7) },
    audio:
      audio === "off" ? { kind: "off" } : audio === "tone" ? { kind: "tone" } : { kind: "microphone", id: audio.slice(4) },
    title: $<HTMLInputElement>("title").value,
    ppv_price: $<HTMLInputElement>("price").value,
    record: $<HTMLInputElement>("record").checked,
  };
}

function fillForm(s: StudioSettings) {
  $<HTMLInputElement>("title").value = s.title;
  $<HTMLInputElement>("price").value = s.ppv_price;
  $<HTMLInputElement>("record").checked = s.record ?? false;
  fillDevices(s);
}

function fillDevices(s: StudioSettings) {
  const video = $<HTMLSelectElement>("video-select");
  video.replaceChildren(option("test_pattern", "Test pattern"), ...devices.cameras.map((c) => option(`camera:${c.id}`, c.name)));
  video.value = s.video.kind === "camera" ? `camera:${s.video.id}` : "test_pattern";
  if (!video.value) video.value = "test_pattern";
  const audio = $<HTMLSelectElement>("audio-select");
  audio.replaceChildren(
    option("tone", "Tone (440 Hz)"),
    option("off", "No sound"),
    ...devices.microphones.map((m) => option(`mic:${m.id}`, m.name)),
  );
  audio.value = s.audio.kind === "microphone" ? `mic:${s.audio.id}` : s.audio.kind;
  if (!audio.value) audio.value = "tone";
  text("device-notes", devices.notes.join(" "));
  text("preview-label", video.selectedOptions[0]?.textContent ?? "");
}

function showFieldErrors(errors: UiError[]) {
  fieldErrors = errors;
  for (const field of ["title", "ppv_price", "backend_url", "api_key"]) {
    text(`${field}-error`, errors.find((e) => e.field === field)?.message ?? "");
  }
  renderButtons();
}

async function checkFields() {
  showFieldErrors(await commands.checkSettings(settingsFromForm()));
}

function renderButtons() {
  if (!view) return;
  const phase = view.phase.phase;
  $<HTMLButtonElement>("go-live").disabled = phase !== "offline" || fieldErrors.length > 0 || !view.account;
  $<HTMLButtonElement>("end-stream").disabled = phase === "offline" || phase === "ending";
  for (const id of ["video-select", "audio-select", "title", "price", "record"]) {
    $<HTMLInputElement>(id).disabled = phase !== "offline";
  }
}

function showBanner(error: UiError | null) {
  const banner = $("banner");
  banner.hidden = !error;
  if (!error) return;
  banner.dataset.kind = error.kind;
  text("banner-text", error.message);
  const button = $<HTMLButtonElement>("banner-action");
  const labels: Record<string, string> = {
    retry: "Retry",
    sign_in: "Sign in again",
    pick_device: "Pick another device",
    reconnect_now: "Reconnect now",
    fix_field: "Fix it",
  };
  button.hidden = error.action === "none";
  button.dataset.action = error.action;
  button.textContent = labels[error.action] ?? "";
}

let shownSchedule = "";

function render(next: StudioView) {
  const first = view === null;
  if (view && next.generation < view.generation) return; // a late update of an older session
  const wasSignedIn = !!view?.account;
  view = next;
  if (next.account && !wasSignedIn && !first) syncPreview();
  const app = $("app");
  app.dataset.ready = "true";
  const signedIn = !!next.account;
  $("signin").hidden = signedIn;
  $("studio").hidden = !signedIn;
  $("who").hidden = !signedIn;
  if (next.account) text("who-name", `${next.account.username} · ${next.account.backend_url}`);
  if (!signedIn && first) $<HTMLInputElement>("backend-url").value ||= "http://127.0.0.1:8080";

  const phase = next.phase.phase;
  if (phase !== lastPhase) {
    // Back offline: the preview opens the chosen camera again (the session had it).
    if (phase === "offline" && lastPhase !== "") syncPreview();
    lastPhase = phase;
  }
  const phaseEl = $("phase");
  phaseEl.dataset.phase = phase;
  text("phase", next.phase.phase === "reconnecting" ? `Reconnecting… (attempt ${next.phase.attempt})` : PHASE_TEXT[phase]);

  const count = next.viewers?.count;
  $("viewers").dataset.count = count === undefined ? "" : String(count);
  text("viewers", count === undefined ? "–" : String(count));
  renderFreshness();

  // Each step: how long after the one before, and when after Go Live was pressed.
  $("timeline").replaceChildren(...next.timeline.map((s) => li(`${s.step} · ${s.ms} ms (at ${s.at_ms} ms)`)));
  const stats = next.stats;
  const rows: [string, string][] = stats
    ? [
        ["Resolution", `${stats.width}×${stats.height}`],
        ["Frame rate", `${stats.fps} fps`],
        ["Bitrate", stats.bitrate_kbps == null ? "…" : `${stats.bitrate_kbps.toFixed(0)} kbit/s`],
        ["Limited by", stats.quality_limitation],
        ["Round trip", stats.rtt_ms == null ? "…" : `${stats.rtt_ms.toFixed(0)} ms`],
        ["Loss", stats.loss_percent == null ? "…" : `${stats.loss_percent.toFixed(1)} %`],
      ]
    : [];
  $("stats").replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      return [dt, dd];
    }),
  );
  $("notices-card").hidden = next.notices.length === 0;
  $("notices").replaceChildren(...next.notices.map((n) => li(n.message)));

  // Redrawn only when it changed: the view comes every second while live, and a row rebuilt
  // under the pointer would lose the click.
  const schedule = JSON.stringify(next.schedule ?? null);
  if (schedule !== shownSchedule) {
    shownSchedule = schedule;
    renderSchedule(next.schedule ?? null);
  }
  // The backend takes the stream scheduled now over with its own title and price.
  const due = next.phase.phase === "offline" ? next.schedule?.upcoming.find((i) => i.goes_live_now) : undefined;
  $("go-live-scheduled").hidden = !due;
  $("go-live-scheduled").textContent = due
    ? `Go Live starts “${due.title}”, scheduled ${due.when}, with its title${due.ppv_price ? ` and price ${due.ppv_price}` : ""}.`
    : "";

  // Earnings: shown once anything was sold.
  const earnings = next.earnings;
  $("earnings-card").hidden = !earnings?.latest;
  if (earnings) {
    const total = earnings.total_cents ?? 0;
    $("earnings").dataset.totalCents = String(total);
    text("earnings", money(total, earnings.currency));
    const latest = earnings.latest;
    text(
      "earnings-latest",
      latest
        ? `Latest: “${latest.title}” · ${money(latest.total_cents ?? 0, earnings.currency)} from ${latest.paid_tickets} ticket${latest.paid_tickets === 1 ? "" : "s"}${
            latest.refunded_tickets ? ` (${latest.refunded_tickets} refunded)` : ""
          }`
        : "",
    );
  }

  const report = next.report;
  $("report-card").hidden = !report;
  if (report) {
    const card = $("report-card");
    card.dataset.allOk = String(report.all_ok);
    card.dataset.participantGone = String(report.participant_gone);
    text(
      "report-summary",
      `· ${report.all_ok ? "all steps ok" : "some steps failed"} · ${report.total_ms} ms · ${
        report.participant_gone ? "server confirmed you left" : "server did not confirm"
      }`,
    );
    $("report").replaceChildren(
      ...report.steps.map((s) => li(`${s.ok ? "✓" : "✗"} ${s.step} · ${s.ms} ms · ${s.detail}`, s.ok ? "ok" : "failed")),
    );
  }
  renderRecordings(next.recording ?? null, next.recordings);
  showBanner(next.banner);
  const error = next.error;
  if (error?.field) showFieldErrors([...fieldErrors.filter((e) => e.field !== error.field), error]);
  renderButtons();
}

function renderFreshness() {
  const v = view?.viewers;
  text(
    "viewers-fresh",
    !v ? "" : v.stale ? "not current: reconnecting to the backend" : v.confirmed_at_ms ? `confirmed ${ago(v.confirmed_at_ms)}` : "",
  );
}

// The preview: the app keeps the newest small picture; this asks for one newer than the last
// drawn on every animation frame (none while the window is hidden, so the app stops making
// them). Binary over the `preview` protocol; see src-tauri's preview_protocol.
const PREVIEW_URL = convertFileSrc("frame", "preview");
let previewSeq = 0;
let previewFrames = 0;

async function previewLoop() {
  try {
    const response = await fetch(`${PREVIEW_URL}?after=${previewSeq}`);
    if (response.status === 200) {
      const buf = await response.arrayBuffer();
      const head = new DataView(buf, 0, 12);
      const [w, h, seq] = [head.getUint32(0, true), head.getUint32(4, true), head.getUint32(8, true)];
      const canvas = $<HTMLCanvasElement>("preview");
      if (canvas.width !== w || canvas.height !== h) [canvas.width, canvas.height] = [w, h];
      canvas.getContext("2d")!.putImageData(new ImageData(new Uint8ClampedArray(buf, 12), w, h), 0, 0);
      previewSeq = seq;
      canvas.dataset.frames = String(++previewFrames);
    }
  } catch {
    // The app is closing or the protocol is not ready: try again next frame.
  }
  requestAnimationFrame(previewLoop);
}

// The meter: the level of the sound going out (before going live, of the sound chosen),
// −60 dBFS at the left to 0 at the right; green, yellow from −18, red from −6.
let meterShown = "";
async function meterTick() {
  if (document.hidden || !view?.account) return;
  const level = await commands.micLevel();
  // Floats arrive nullable (JSON has no NaN); silence is −120.
  const [rms, peak] = level ? [level.rms_dbfs ?? -120, level.peak_dbfs ?? -120] : [null, null];
  const pct = rms === null ? 0 : Math.min(100, Math.max(0, ((rms + 60) / 60) * 100));
  const state = rms === null || peak === null ? "none" : peak >= -6 ? "hot" : rms >= -18 ? "good" : "low";
  const label = rms === null || peak === null ? "no sound" : `${rms.toFixed(0)} dBFS (peak ${peak.toFixed(0)})`;
  // Repaint only when what is shown changes: without a GPU every repaint costs the web process.
  const shown = `${pct.toFixed(0)}|${state}|${label}`;
  if (shown === meterShown) return;
  meterShown = shown;
  const fill = $("mic-meter");
  fill.style.width = `${pct.toFixed(0)}%`;
  fill.dataset.level = state;
  $("mic-level").dataset.rms = rms === null ? "" : rms.toFixed(1);
  text("mic-level", label);
}

function syncPreview() {
  if (!view?.account) return;
  const s = settingsFromForm();
  commands.setPreview(document.hidden ? null : { video: s.video, audio: s.audio }).then((r) => {
    if (r.status === "error") text("device-notes", r.error.message);
  });
}

async function run<T>(button: HTMLButtonElement, action: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.classList.add("busy");
  try {
    return await action();
  } finally {
    button.classList.remove("busy");
    renderButtons();
    if (button.id === "sign-in") button.disabled = false;
  }
}

async function goLive() {
  const settings = settingsFromForm();
  const errors = await commands.checkSettings(settings);
  showFieldErrors(errors);
  if (errors.length > 0) return;
  await run($<HTMLButtonElement>("go-live"), () => commands.goLive(settings));
}

async function start() {
  $("app").innerHTML = SKELETON;
  $("sign-in").addEventListener("click", async () => {
    showFieldErrors([]);
    const result = await run($<HTMLButtonElement>("sign-in"), () =>
      commands.signIn($<HTMLInputElement>("backend-url").value, $<HTMLInputElement>("api-key").value),
    );
    if (result.status === "error") {
      if (result.error.field) showFieldErrors([result.error]);
      else showBanner(result.error);
    } else {
      $<HTMLInputElement>("api-key").value = "";
      showBanner(null);
    }
  });
  $("sign-out").addEventListener("click", async () => {
    const result = await commands.signOut();
    if (result.status === "error") showBanner(result.error);
  });
  $("go-live").addEventListener("click", goLive);
  $("end-stream").addEventListener("click", () => run($<HTMLButtonElement>("end-stream"), () => commands.endStream()));
  for (const id of ["title", "price", "video-select", "audio-select"]) {
    $(id).addEventListener("input", checkFields);
  }
  $("video-select").addEventListener("change", () => {
    text("preview-label", $<HTMLSelectElement>("video-select").selectedOptions[0]?.textContent ?? "");
    syncPreview();
  });
  $("audio-select").addEventListener("change", syncPreview);
  document.addEventListener("visibilitychange", syncPreview);
  $("banner-action").addEventListener("click", async () => {
    const action = $("banner-action").dataset.action;
    if (action === "retry") await goLive();
    else if (action === "reconnect_now") await commands.reconnectNow();
    else if (action === "sign_in") await commands.signOut();
    else if (action === "pick_device") $("video-select").focus();
    showBanner(null);
  });
  await events.studioUpdated.listen((event) => render(event.payload));
  render(await commands.studioView());
  await startChat(() => !!view?.account);
  startSchedule();
  startRecordings();
  const settings = await commands.getSettings();
  fillForm(settings);
  await checkFields();
  setInterval(renderFreshness, 1000);
  setInterval(meterTick, 100);
  requestAnimationFrame(previewLoop);
  const listed = await commands.listDevices();
  if (listed.status === "ok") {
    devices = listed.data;
    fillDevices(settingsFromForm());
  }
  syncPreview();
}

start();
