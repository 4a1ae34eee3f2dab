// How the viewer page fetches its token: at most three attempts, waits that grow with jitter,
// the server's Retry-After honoured, and no retry where one cannot help (offline, unknown).
// Pure, so every branch is unit-tested.

export const MAX_ATTEMPTS = 3;
const BASE_DELAY_MS = 500;

/** What one attempt came back with. */
export type Outcome =
  | { kind: "ok" }
  | { kind: "http"; status: number; retryAfterS?: number; errorKind?: string }
  | { kind: "network" };

/** Why watching cannot start (yet). */
export type Failure = "rate_limited" | "offline" | "not_found" | "network" | "server" | "in_use" | "banned";

export type Decision =
  | { action: "done" }
  | { action: "retry"; delayMs: number; failure: Failure }
  | { action: "fail"; failure: Failure };

export function classify(outcome: Outcome): Failure | null {
  if (outcome.kind === "ok") return null;
  if (outcome.kind === "network") return "network";
  if (outcome.status === 429) return "rate_limited";
  // A ticket still held by this viewer's last page (a reload) is let go within moments.
  if (outcome.status === 409) return outcome.errorKind === "ticket_in_use" ? "in_use" : "offline";
  if (outcome.status === 404 || outcome.status === 400) return "not_found";
  if (outcome.status === 403 && outcome.errorKind === "banned") return "banned";
  return "server";
}

/** Waits before attempt `attempt + 1`: 0.5 s, 1 s, … each between half and all of that. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const full = BASE_DELAY_MS * 2 ** (attempt - 1);
  return Math.round(full * (0.5 + 0.5 * random()));
}

/** After attempt number `attempt` (1-based) ended with `outcome`, what next. */
export function decide(attempt: number, outcome: Outcome, random: () => number = Math.random): Decision {
  const failure = classify(outcome);
  if (failure === null) return { action: "done" };
  const retryable = failure === "rate_limited" || failure === "network" || failure === "server" || failure === "in_use";
  if (!retryable || attempt >= MAX_ATTEMPTS) return { action: "fail", failure };
  const delayMs =
    outcome.kind === "http" && outcome.retryAfterS !== undefined
      ? outcome.retryAfterS * 1000
      : backoffMs(attempt, random);
  return { action: "retry", delayMs, failure };
}

/** `Retry-After` in seconds (delta form; an HTTP date counts from `nowMs`). */
export function parseRetryAfter(header: string | null, nowMs: number = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const at = Date.parse(header);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** What the viewer reads; `retryInS` while another attempt is coming. */
export function failureMessage(failure: Failure, retryInS?: number): string {
  const again = retryInS === undefined ? "" : ` Trying again in ${retryInS} s…`;
  switch (failure) {
    case "rate_limited":
      return retryInS === undefined
        ? "Too many requests from your network. Wait a minute, then try again."
        : `Too many requests from your network right now.${again}`;
    case "offline":
      return "This stream is not live right now.";
    case "not_found":
      return "There is no such stream. Check the address you were given.";
    case "network":
      return retryInS === undefined
        ? "Can't reach OnAir. Check your connection, then try again."
        : `Can't reach OnAir.${again}`;
    case "in_use":
      return retryInS === undefined
        ? "Your ticket is being used to watch somewhere else (another tab or device). Close it there, then try again."
        : `Your ticket is still in use elsewhere.${again}`;
    case "banned":
      return "You are banned from this stream by its creator.";
    case "server":
      return retryInS === undefined
        ? "OnAir is having trouble right now. Try again in a moment."
        : `OnAir is having trouble.${again}`;
  }
}
