import { describe, expect, it } from "vitest";
import { apply, canSend, duration, initial, KEEP, refusalText, statusLine, type ChatState } from "./chat-state";

const msg = (id: number, text = `m${id}`) => ({ id, name: "night_owl", text, sent_at: id });

describe("the viewer page's chat", () => {
  it("shows messages oldest first, once each, even when a resumed stream sends one again", () => {
    let s: ChatState = initial;
    for (const id of [2, 1, 2, 3]) s = apply(s, { type: "message", message: msg(id) });
    expect(s.messages.map((m) => m.id)).toEqual([1, 2, 3]);
  });

  it("drops a hidden message and keeps the rest", () => {
    let s: ChatState = initial;
    for (const id of [1, 2, 3]) s = apply(s, { type: "message", message: msg(id) });
    s = apply(s, { type: "hidden", hidden: { id: 4, message_id: 2 } });
    expect(s.messages.map((m) => m.id)).toEqual([1, 3]);
  });

  it("keeps the newest messages only", () => {
    let s: ChatState = initial;
    for (let id = 1; id <= KEEP + 5; id++) s = apply(s, { type: "message", message: msg(id) });
    expect(s.messages.length).toBe(KEEP);
    expect(s.messages[0].id).toBe(6);
  });

  it("clears on reset", () => {
    const s = apply(apply(initial, { type: "message", message: msg(1) }), { type: "reset" });
    expect(s.messages).toEqual([]);
  });

  it("says a banned viewer is banned, and closes the input", () => {
    const s = apply(initial, { type: "standing", standing: { state: "banned" } });
    expect(statusLine(s, 0)).toBe("You are banned from this chat.");
    expect(canSend(s, 0)).toBe(false);
  });

  it("counts a timeout down and opens the input again when it ends", () => {
    const s = apply(initial, { type: "standing", standing: { state: "timed_out", until: 300_000 } });
    expect(statusLine(s, 0)).toBe("You were timed out: you can chat again in 5 min.");
    expect(canSend(s, 299_000)).toBe(false);
    expect(canSend(s, 300_000)).toBe(true);
    expect(statusLine(s, 300_000)).toBeNull();
  });

  it("tells every viewer the chat's slow mode and established-only rule", () => {
    const s = apply(initial, { type: "mode", mode: { slow_mode_secs: 3, established_minutes: 10 } });
    expect(statusLine(s, 0)).toBe("Slow mode: one message every 3 s. Only viewers who have watched 10 min may chat.");
  });

  it("writes waits as people read them", () => {
    expect(duration(12)).toBe("12 s");
    expect(duration(65)).toBe("1 min 5 s");
    expect(duration(300)).toBe("5 min");
    expect(duration(7380)).toBe("2 h 3 min");
    expect(duration(14 * 86400)).toBe("14 d");
  });

  it("explains each refusal with what to do", () => {
    expect(refusalText("slow_mode", undefined, 3)).toBe("You are in slow mode: wait 3 s, then send again.");
    expect(refusalText("timed_out", undefined, 300)).toContain("5 min");
    expect(refusalText("blocked_term", undefined)).toContain("Nobody saw it");
    expect(refusalText("name_taken", undefined)).toContain("Pick another");
    expect(refusalText("invalid", "text: must not be empty")).toBe("text: must not be empty");
  });
});
