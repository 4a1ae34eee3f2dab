import { describe, expect, it } from "vitest";
import { countdown, localStart, scheduleView, type Scheduled } from "./schedule";

const START = Date.UTC(2027, 0, 15, 8, 0, 0);
const stream = (state: Scheduled["state"] = "scheduled"): Scheduled => ({
  id: 7,
  username: "alice",
  title: "Friday jam",
  description: "",
  starts_at: START,
  duration_minutes: 90,
  currency: "usd",
  sequence: 0,
  state,
});

describe("a scheduled stream on the viewer page", () => {
  it("counts down in whole seconds and reaches zero exactly at the start", () => {
    expect(countdown(START, START - 119_000)).toBe("in 00:01:59");
    expect(countdown(START, START - 118_500)).toBe("in 00:01:59");
    expect(countdown(START, START - 1)).toBe("in 00:00:01");
    expect(countdown(START, START)).toBe("");
    expect(countdown(START, START - (2 * 86_400 + 3 * 3600 + 4 * 60 + 5) * 1000)).toBe("in 2 d 03:04:05");
  });

  it("shows the start in the viewer's time zone while the countdown is the same everywhere", () => {
    const tokyo = scheduleView(stream(), START - 60_000, "en-US", "Asia/Tokyo");
    const newYork = scheduleView(stream(), START - 60_000, "en-US", "America/New_York");
    expect(tokyo.when).toContain("5:00");
    expect(newYork.when).toContain("3:00");
    expect(tokyo.when).not.toBe(newYork.when);
    expect(tokyo.countdown).toBe(newYork.countdown);
    expect(localStart(START, "en-US", "UTC")).toContain("8:00");
  });

  it("says starting soon once the start has passed and the creator is not live yet", () => {
    expect(scheduleView(stream(), START + 5_000).kind).toBe("soon");
    expect(scheduleView(stream(), START - 5_000).kind).toBe("upcoming");
  });

  it("says when a stream was cancelled or never took place", () => {
    expect(scheduleView(stream("cancelled"), START - 5_000)).toMatchObject({ kind: "cancelled", heading: "This stream was cancelled" });
    expect(scheduleView(stream("missed"), START + 9e6)).toMatchObject({ kind: "missed", heading: "This stream did not take place" });
  });
});
