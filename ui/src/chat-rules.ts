// The studio chat panel's decisions, apart from the page so they are unit-tested.
import type { ChatPanelView } from "./bindings";

/** Timeout lengths offered, in seconds: 1 min, 5 min, 1 h, 1 day, 14 days (the longest). */
export const TIMEOUTS = [60, 300, 3600, 86400, 1209600];

export function timeoutLabel(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} day${seconds === 86400 ? "" : "s"}`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** The blocked words typed one per line (or separated by commas): trimmed, each once. */
export function blockedTerms(typed: string): string[] {
  const seen = new Set<string>();
  const terms: string[] = [];
  for (const raw of typed.split(/[\n,]/)) {
    const term = raw.trim();
    if (term && !seen.has(term.toLowerCase())) {
      seen.add(term.toLowerCase());
      terms.push(term);
    }
  }
  return terms;
}

/** The line beside the panel's title. */
export function chatStatus(panel: ChatPanelView): string {
  if (!panel.open) return panel.lines.length ? "· the stream ended" : "· opens when you go live";
  if (panel.stale) return "· reconnecting: messages sent meanwhile arrive when it is back";
  const modes = [];
  if (panel.slow_mode_secs) modes.push(`slow mode ${panel.slow_mode_secs} s`);
  if (panel.established_minutes) modes.push(`viewers of ${panel.established_minutes} min or more only`);
  return modes.length ? `· ${modes.join(" · ")}` : "· live";
}
