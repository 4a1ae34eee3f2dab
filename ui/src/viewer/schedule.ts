// What the viewer page says about a scheduled stream before it starts: its local start
// time, the countdown, "starting soon" once the time has come, and a stream called off or
// never started. Pure: the page passes the stream, the time and the viewer's time zone.

import type { components } from "./api";

/** A scheduled stream as the API sends it (generated from the server's OpenAPI document). */
export type Scheduled = components["schemas"]["ScheduledStream"];

export type ScheduleView =
  | { kind: "upcoming"; heading: string; when: string; countdown: string }
  | { kind: "soon"; heading: string; when: string; countdown: string }
  | { kind: "cancelled" | "missed"; heading: string; when: string; countdown: "" };

const two = (n: number) => String(n).padStart(2, "0");

/** "in 2 d 03:04:05", "in 00:01:59"; "" once the start has come. Whole seconds, rounded up,
 * so the count reaches 00:00:00 at the start and not a second early. */
export function countdown(startsAt: number, now: number): string {
  const left = Math.ceil((startsAt - now) / 1000);
  if (left <= 0) return "";
  const days = Math.floor(left / 86_400);
  const rest = left % 86_400;
  const clock = `${two(Math.floor(rest / 3600))}:${two(Math.floor((rest % 3600) / 60))}:${two(rest % 60)}`;
  return days > 0 ? `in ${days} d ${clock}` : `in ${clock}`;
}

/** The start in the viewer's own time zone, e.g. "Fri, Dec 11, 6:00 PM GMT+1". */
export function localStart(ms: number, locale?: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, {
    weekday: "short",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZoneName: "short",
    ...(timeZone ? { timeZone } : {}),
  }).format(ms);
}

export function scheduleView(s: Scheduled, now: number, locale?: string, timeZone?: string): ScheduleView {
  const when = localStart(s.starts_at, locale, timeZone);
  switch (s.state) {
    case "cancelled":
      return { kind: "cancelled", heading: "This stream was cancelled", when, countdown: "" };
    case "missed":
      return { kind: "missed", heading: "This stream did not take place", when, countdown: "" };
    default: {
      const left = countdown(s.starts_at, now);
      return left
        ? { kind: "upcoming", heading: `Scheduled: ${s.title}`, when, countdown: left }
        : { kind: "soon", heading: "Starting soon", when, countdown: "" };
    }
  }
}
