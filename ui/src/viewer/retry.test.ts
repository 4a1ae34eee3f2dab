import { describe, expect, it } from "vitest";
import { backoffMs, decide, failureMessage, parseRetryAfter } from "./retry";

describe("fetching the viewer token", () => {
  it("stops at once when the token comes back", () => {
    expect(decide(1, { kind: "ok" })).toEqual({ action: "done" });
  });

  it("retries a server error and a network error, then gives up after the third attempt", () => {
    expect(decide(1, { kind: "http", status: 503 }, () => 1)).toEqual({ action: "retry", delayMs: 500, failure: "server" });
    expect(decide(2, { kind: "network" }, () => 1)).toEqual({ action: "retry", delayMs: 1000, failure: "network" });
    expect(decide(3, { kind: "network" })).toEqual({ action: "fail", failure: "network" });
  });

  it("waits as long as Retry-After says when rate limited", () => {
    expect(decide(1, { kind: "http", status: 429, retryAfterS: 6 })).toEqual({ action: "retry", delayMs: 6000, failure: "rate_limited" });
    expect(decide(3, { kind: "http", status: 429, retryAfterS: 6 })).toEqual({ action: "fail", failure: "rate_limited" });
  });

  it("never retries an offline or unknown streamer", () => {
    expect(decide(1, { kind: "http", status: 409 })).toEqual({ action: "fail", failure: "offline" });
    expect(decide(1, { kind: "http", status: 404 })).toEqual({ action: "fail", failure: "not_found" });
    expect(decide(1, { kind: "http", status: 400 })).toEqual({ action: "fail", failure: "not_found" });
  });

  it("spreads waits between half and all of the doubling delay", () => {
    expect(backoffMs(1, () => 0)).toBe(250);
    expect(backoffMs(1, () => 1)).toBe(500);
    expect(backoffMs(2, () => 0.5)).toBe(750);
    for (let i = 0; i < 100; i++) {
      const d = backoffMs(2);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });

  it("reads Retry-After as seconds or as a date", () => {
    expect(parseRetryAfter("6")).toBe(6);
    expect(parseRetryAfter("2.2")).toBe(3);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    const now = Date.parse("2026-11-25T12:00:00Z");
    expect(parseRetryAfter("Wed, 25 Nov 2026 12:00:10 GMT", now)).toBe(10);
  });

  it("tells rate limiting, offline and network trouble apart", () => {
    const texts = new Set(["rate_limited", "offline", "network", "server", "not_found"].map((f) => failureMessage(f as never)));
    expect(texts.size).toBe(5);
    expect(failureMessage("rate_limited", 6)).toContain("Trying again in 6 s");
  });

  it("retries a ticket still held by the last page for a moment, but not an offline stream", () => {
    const inUse = { kind: "http", status: 409, errorKind: "ticket_in_use" } as const;
    expect(decide(1, inUse, () => 1)).toEqual({ action: "retry", delayMs: 500, failure: "in_use" });
    expect(decide(3, inUse)).toEqual({ action: "fail", failure: "in_use" });
    expect(decide(1, { kind: "http", status: 409, errorKind: "offline" })).toEqual({ action: "fail", failure: "offline" });
  });

  it("never retries a viewer the creator banned, and says so", () => {
    expect(decide(1, { kind: "http", status: 403, errorKind: "banned" })).toEqual({ action: "fail", failure: "banned" });
    expect(failureMessage("banned")).toContain("banned");
  });
});
