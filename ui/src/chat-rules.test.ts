import { describe, expect, it } from "vitest";
import { blockedTerms, chatStatus, timeoutLabel, TIMEOUTS } from "./chat-rules";
import type { ChatPanelView } from "./bindings";

const panel = (over: Partial<ChatPanelView>): ChatPanelView => ({
  open: true,
  lines: [],
  unread: 0,
  stale: false,
  slow_mode_secs: 0,
  established_minutes: 0,
  ...over,
});

describe("the studio's chat rules", () => {
  it("labels every offered timeout in its largest whole unit", () => {
    expect(TIMEOUTS.map(timeoutLabel)).toEqual(["1 min", "5 min", "1 h", "1 day", "14 days"]);
    expect(timeoutLabel(45)).toBe("45 s");
  });

  it("reads blocked words one per line or comma-separated, trimmed and each once", () => {
    expect(blockedTerms(" spam \nfree followers, SPAM,,\n\n")).toEqual(["spam", "free followers"]);
    expect(blockedTerms("")).toEqual([]);
  });

  it("says whether the chat is live, reconnecting, ended or not yet open, and its modes", () => {
    expect(chatStatus(panel({}))).toBe("· live");
    expect(chatStatus(panel({ slow_mode_secs: 3, established_minutes: 10 }))).toBe(
      "· slow mode 3 s · viewers of 10 min or more only",
    );
    expect(chatStatus(panel({ stale: true }))).toMatch(/reconnecting/);
    expect(chatStatus(panel({ open: false }))).toBe("· opens when you go live");
    expect(chatStatus(panel({ open: false, lines: [{ id: 1, name: "a", text: "b", sent_at_ms: 0 }] }))).toBe(
      "· the stream ended",
    );
  });
});
