// The studio's recordings: the Record switch's live line ("REC 0:12 · 4.6 MB") and the
// folder's recordings with each one's upload (progress, Upload again, the replay's link, Show
// in folder). Drawn from StudioView; the upload and the folder are the app's.
import { commands, type RecordingItem, type RecordingLive } from "./bindings";

export const RECORDINGS_CARD = `
<div class="card" id="recordings-card" hidden>
  <div class="label">Recordings <button id="recordings-folder" class="link">Show folder</button></div>
  <ol id="recordings" class="recordings"></ol>
  <div class="field-error" id="recordings-error"></div>
</div>`;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** "1:02:03" or "4:05". */
export function clock(secs: number): string {
  const total = Math.max(0, Math.floor(secs));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The live line under the Go Live buttons. */
export function liveLine(r: RecordingLive | null): string {
  if (!r) return "";
  if (r.stopped) return `Recording stopped (${r.stopped}); the stream goes on.`;
  return `REC ${clock(r.duration_secs ?? 0)} · ${megabytes(r.bytes ?? 0)} · ${r.file}`;
}

/** What a recording's upload says. */
export function uploadText(item: RecordingItem): string {
  switch (item.upload.kind) {
    case "local":
      return item.stream_id == null ? "not uploaded" : "not uploaded (Upload sends it as the stream's replay)";
    case "uploading":
      return `uploading ${(item.upload.percent ?? 0).toFixed(0)} %`;
    case "uploaded":
      return "replay online";
    case "failed":
      return `upload failed: ${item.upload.message}`;
  }
}

let shown = "";

export function renderRecordings(live: RecordingLive | null, items: RecordingItem[]) {
  $("recording-live").hidden = !live;
  const line = liveLine(live);
  if ($("recording-live").textContent !== line) $("recording-live").textContent = line;
  // Rows are rebuilt only when something in them changed (a click on a row is not lost).
  const key = JSON.stringify(items);
  if (key === shown) return;
  shown = key;
  $("recordings-card").hidden = items.length === 0;
  $("recordings").replaceChildren(
    ...items.map((item) => {
      const row = document.createElement("li");
      row.dataset.file = item.file;
      row.dataset.upload = item.upload.kind;
      const name = document.createElement("span");
      name.className = "recording-name";
      name.textContent = `${item.file} · ${megabytes(item.bytes ?? 0)}`;
      const state = document.createElement("span");
      state.className = "recording-state";
      state.textContent = ` · ${uploadText(item)}`;
      row.append(name, state);
      if (item.upload.kind === "uploaded") {
        const link = document.createElement("a");
        link.href = item.upload.replay_url;
        link.className = "replay-link";
        link.textContent = "Replay";
        link.target = "_blank";
        row.append(" ", link);
      }
      if ((item.upload.kind === "local" || item.upload.kind === "failed") && item.stream_id != null) {
        const upload = document.createElement("button");
        upload.className = "link upload";
        upload.textContent = item.upload.kind === "failed" ? "Upload again" : "Upload";
        upload.addEventListener("click", async () => {
          const result = await commands.uploadRecording(item.file);
          $("recordings-error").textContent = result.status === "error" ? result.error.message : "";
        });
        row.append(" ", upload);
      }
      const show = document.createElement("button");
      show.className = "link show";
      show.textContent = "Show in folder";
      show.addEventListener("click", async () => {
        const result = await commands.showRecording(item.file);
        $("recordings-error").textContent = result.status === "error" ? result.error.message : "";
      });
      row.append(" ", show);
      return row;
    }),
  );
}

export function startRecordings() {
  $("recordings-folder").addEventListener("click", async () => {
    const result = await commands.showRecording(null);
    $("recordings-error").textContent = result.status === "error" ? result.error.message : "";
  });
}
