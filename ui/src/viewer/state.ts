// The viewer page's states and what moves between them. Pure: the page feeds it what the
// backend and the LiveKit room report and carries out the effect it answers.
import type { Failure } from "./retry";

export type Phase =
  | "loading"
  | "offline"
  | "connecting"
  | "live"
  | "reconnecting"
  | "ended"
  | "error"
  /** Pay-per-view: a ticket is needed (none held, or the one held cannot watch this stream). */
  | "paywall"
  /** Buying, or back from checkout waiting for the provider to confirm the payment. */
  | "confirming";

export type PageEvent =
  /** The backend said whether the streamer is live (status answer or an events-stream update). */
  | { type: "live"; live: boolean }
  | { type: "token_failed"; failure: Failure }
  /** Joined the room and the creator's video is playing. */
  | { type: "playing" }
  | { type: "room_reconnecting" }
  | { type: "room_reconnected" }
  /** The room went away: `ended` when the server closed it or the creator left. */
  | { type: "room_closed"; ended: boolean }
  | { type: "load_failed" }
  /** The viewer asked to try again. */
  | { type: "retry" }
  /** The token request says this stream needs a (new) ticket. */
  | { type: "payment_required" }
  /** The token request says the held ticket's payment is not confirmed yet. */
  | { type: "payment_pending" }
  /** The viewer pressed Buy. */
  | { type: "buy" }
  | { type: "ticket_paid" }
  | { type: "purchase_failed" };

/** connect: fetch a token and join. close: leave the room, close the events stream, stop
 * every timer. reload: start over from the status request. buy: start a purchase (to
 * checkout, or paid at once). await_payment: follow the held ticket until it is paid. */
export type Effect = "connect" | "close" | "leave_room" | "reload" | "buy" | "await_payment" | null;

export interface Step {
  phase: Phase;
  effect: Effect;
}

const watching = (p: Phase) => p === "connecting" || p === "live" || p === "reconnecting";

export function next(phase: Phase, event: PageEvent): Step {
  const stay: Step = { phase, effect: null };
  switch (event.type) {
    case "live":
      if (event.live && (phase === "loading" || phase === "offline")) return { phase: "connecting", effect: "connect" };
      if (!event.live && phase === "loading") return { phase: "offline", effect: null };
      if (!event.live && (watching(phase) || phase === "paywall" || phase === "confirming"))
        return { phase: "ended", effect: "close" };
      return stay;
    case "token_failed":
      if (phase !== "connecting") return stay;
      if (event.failure === "offline") return { phase: "offline", effect: null };
      return { phase: "error", effect: "leave_room" };
    case "playing":
      return phase === "connecting" || phase === "reconnecting" ? { phase: "live", effect: null } : stay;
    case "room_reconnecting":
      return phase === "live" || phase === "connecting" ? { phase: "reconnecting", effect: null } : stay;
    case "room_reconnected":
      return phase === "reconnecting" ? { phase: "live", effect: null } : stay;
    case "room_closed":
      if (!watching(phase)) return stay;
      return event.ended ? { phase: "ended", effect: "close" } : { phase: "error", effect: "leave_room" };
    case "load_failed":
      return phase === "loading" ? { phase: "error", effect: null } : stay;
    case "retry":
      return phase === "error" || phase === "ended" ? { phase: "loading", effect: "reload" } : stay;
    case "payment_required":
      return phase === "connecting" || phase === "confirming" ? { phase: "paywall", effect: null } : stay;
    case "payment_pending":
      return phase === "connecting" ? { phase: "confirming", effect: "await_payment" } : stay;
    case "buy":
      return phase === "paywall" ? { phase: "confirming", effect: "buy" } : stay;
    case "ticket_paid":
      return phase === "confirming" ? { phase: "connecting", effect: "connect" } : stay;
    case "purchase_failed":
      return phase === "confirming" ? { phase: "paywall", effect: null } : stay;
  }
}
