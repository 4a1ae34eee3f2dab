// The viewer page's chat: what it shows, from the events the backend sends, and what it says
// about where the viewer stands. Pure, so every rule is unit-tested; chat.ts renders it.
import type { components } from "./api";

type Schemas = components["schemas"];
export type ChatMessage = Schemas["ChatMessage"];
export type ChatMode = Schemas["ChatMode"];
export type ChatStanding = Schemas["ChatStanding"];
type ChatHidden = Schemas["ChatHidden"];

/** The most messages a chat keeps on screen. */
export const KEEP = 200;

export interface ChatState {
  /** Oldest first, each id once. */
  messages: ChatMessage[];
  mode: ChatMode;
  standing: ChatStanding;
}

export const initial: ChatState = {
  messages: [],
  mode: { slow_mode_secs: 0, established_minutes: 0 },
  standing: { state: "welcome" },
};

export type ChatEvent =
  | { type: "message"; message: ChatMessage }
  | { type: "hidden"; hidden: ChatHidden }
  | { type: "mode"; mode: ChatMode }
  | { type: "standing"; standing: ChatStanding }
  /** The backend could not send what was missed: start over from what follows. */
  | { type: "reset" };

export function apply(state: ChatState, event: ChatEvent): ChatState {
  switch (event.type) {
    case "message": {
      // A message seen before (a resumed stream sending it again) is not shown twice.
      if (state.messages.some((m) => m.id === event.message.id)) return state;
      const messages = [...state.messages, event.message].sort((a, b) => a.id - b.id);
      return { ...state, messages: messages.slice(-KEEP) };
    }
    case "hidden":
      return { ...state, messages: state.messages.filter((m) => m.id !== event.hidden.message_id) };
    case "mode":
      return { ...state, mode: event.mode };
    case "standing":
      return { ...state, standing: event.standing };
    case "reset":
      return { ...state, messages: [] };
  }
}

/** "4 min 5 s", "2 h 3 min", "12 s". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ""}`;
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ""}`;
}

/** What the chat says above its input, if anything: the viewer's standing first, then the
 * chat's mode. `nowMs` counts a timeout down. */
export function statusLine(state: ChatState, nowMs: number): string | null {
  const standing = state.standing;
  if (standing.state === "banned") return "You are banned from this chat.";
  if (standing.state === "timed_out" && standing.until > nowMs)
    return `You were timed out: you can chat again in ${duration((standing.until - nowMs) / 1000)}.`;
  const rules: string[] = [];
  if (state.mode.slow_mode_secs > 0) rules.push(`Slow mode: one message every ${duration(state.mode.slow_mode_secs)}`);
  if (state.mode.established_minutes > 0)
    rules.push(`Only viewers who have watched ${duration(state.mode.established_minutes * 60)} may chat`);
  return rules.length ? `${rules.join(". ")}.` : null;
}

/** Whether the input is open. */
export function canSend(state: ChatState, nowMs: number): boolean {
  const s = state.standing;
  return s.state === "welcome" || (s.state === "timed_out" && s.until <= nowMs);
}

/** What a refused message tells the viewer, from the error's kind and the wait. */
export function refusalText(kind: string | undefined, message: string | undefined, retryAfterS?: number): string {
  const wait = retryAfterS !== undefined ? duration(retryAfterS) : null;
  switch (kind) {
    case "slow_mode":
      return `You are in slow mode: wait ${wait ?? "a moment"}, then send again.`;
    case "timed_out":
      return `You were timed out: you can chat again in ${wait ?? "a while"}.`;
    case "too_new":
      return `This chat is for viewers who have watched a while: you can chat in ${wait ?? "a few minutes"}.`;
    case "banned":
      return "You are banned from this chat.";
    case "blocked_term":
      return "Your message contains a word the creator blocked. Nobody saw it.";
    case "name_taken":
      return "Someone in this chat already uses that name. Pick another.";
    case "rate_limited":
      return `Too many messages: wait ${wait ?? "a moment"}.`;
    case "offline":
      return "The chat opens when the stream is live.";
    case "payment_required":
    case "payment_pending":
    case "ticket_refunded":
      return "Only ticket holders can chat during this stream.";
    default:
      return message ?? "Your message could not be sent. Try again.";
  }
}
