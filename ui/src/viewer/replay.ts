// The replay page, /live/{username}/replays/{id}: a past stream's recording in a plain
// <video controls>, played from the backend with byte ranges (so it seeks at once). A
// pay-per-view stream's replay plays with the ticket this browser holds for the streamer.
import "./viewer.css";
import type { components } from "./api";
import { clock, videoSource, type Replay } from "./replays";

type ApiError = Partial<components["schemas"]["ErrorBody"]>;

const [, username = "", , id = ""] = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
const app = document.getElementById("app") as HTMLElement;
app.innerHTML = `
<header>
  <a class="brand" id="back"><span class="dot"></span>OnAir</a>
  <span id="who" class="who"></span>
  <span class="badge">REPLAY</span>
</header>
<main class="replay">
  <div class="stage"><video id="video" controls playsinline preload="metadata"></video>
    <div id="overlay" class="overlay" hidden><h2 id="overlay-title"></h2><p id="notice"></p></div>
  </div>
  <div class="meta"><h1 id="title"></h1><p id="subtitle"></p></div>
</main>`;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
$("who").textContent = username;
$<HTMLAnchorElement>("back").href = `/live/${encodeURIComponent(username)}`;

declare global {
  interface Window {
    /** For tests: the replay shown, once loaded. */
    onairReplay: { replay: Replay | null };
  }
}
window.onairReplay = { replay: null };

function problem(title: string, text: string, state: string) {
  app.dataset.state = state;
  $("overlay").hidden = false;
  $("overlay-title").textContent = title;
  $("notice").textContent = text;
}

async function load() {
  let response: Response;
  try {
    response = await fetch(`/api/replays/${encodeURIComponent(id)}`);
  } catch {
    return problem("Cannot reach OnAir", "Check your connection and reload the page.", "error");
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as ApiError;
    return problem("No such replay", body.error?.message ?? "This replay does not exist or was deleted.", "not-found");
  }
  const replay = (await response.json()) as Replay;
  window.onairReplay.replay = replay;
  document.title = `${replay.title} · replay · ${username} · OnAir`;
  $("title").textContent = replay.title;
  const when = replay.started_at != null ? new Date(replay.started_at).toLocaleString() : "";
  $("subtitle").textContent = `${when} · ${clock(replay.duration_ms)}`;
  let ticket: string | null = null;
  try {
    ticket = localStorage.getItem(`onair.ticket.${username}`);
  } catch {
    // Storage refused: no ticket.
  }
  const video = $<HTMLVideoElement>("video");
  video.addEventListener("error", async () => {
    // The element says only that it failed: ask the server why.
    const check = await fetch(videoSource(replay, ticket), { headers: { Range: "bytes=0-0" } }).catch(() => null);
    const body = check && !check.ok ? ((await check.json().catch(() => ({}))) as ApiError) : null;
    if (check?.status === 402) {
      problem("Pay-per-view replay", "This stream was pay-per-view: its replay plays in the browser that bought a ticket for it.", "payment");
    } else {
      problem("The replay does not play", body?.error?.message ?? "Reload the page to try again.", "error");
    }
  });
  video.src = videoSource(replay, ticket);
  app.dataset.state = "ready";
}

void load();
