// Replays on the viewer page: the list of a streamer's past streams with replays (under the
// player at /live/{username}) and what the replay page shows for one. Pure (no DOM), so the
// wording and the links are unit-tested; main.ts and replay.ts draw them.
import { money } from "../money";
import type { components } from "./api";

export type Replay = components["schemas"]["Replay"];

/** "1:02:03" or "4:05". */
export function clock(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const two = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** Where a replay's page is. */
export function replayPage(username: string, r: Replay): string {
  return `/live/${encodeURIComponent(username)}/replays/${r.stream_id}`;
}

/** The video's address, with the viewer's ticket for a pay-per-view replay. */
export function videoSource(r: Replay, ticket: string | null): string {
  return r.ppv_price_cents != null && ticket ? `${r.video_url}?ticket=${encodeURIComponent(ticket)}` : r.video_url;
}

/** One line of the list: when, how long, and the price if it has one. */
export function describe(r: Replay, currency: string, locale?: string): string {
  // An Intl date in the viewer's own zone; the price in the stream's currency.
  const when = r.started_at != null
    ? new Date(r.started_at).toLocaleDateString(locale, { weekday: "short", month: "short", day: "numeric" })
    : "";
  const price = r.ppv_price_cents != null ? ` · ${money(r.ppv_price_cents, currency)}` : "";
  return `${when} · ${clock(r.duration_ms)}${price}`;
}
