import { describe, expect, it } from "vitest";
import { next, type PageEvent, type Phase } from "./state";

const run = (events: PageEvent[], from: Phase = "loading") =>
  events.reduce<{ phase: Phase; effects: string[] }>(
    (acc, e) => {
      const step = next(acc.phase, e);
      return { phase: step.phase, effects: step.effect ? [...acc.effects, step.effect] : acc.effects };
    },
    { phase: from, effects: [] },
  );

describe("the viewer page", () => {
  it("connects when the streamer is live and plays once the video arrives", () => {
    expect(run([{ type: "live", live: true }, { type: "playing" }])).toEqual({ phase: "live", effects: ["connect"] });
  });

  it("shows offline, then connects by itself when the streamer goes live", () => {
    expect(run([{ type: "live", live: false }]).phase).toBe("offline");
    expect(run([{ type: "live", live: false }, { type: "live", live: true }])).toEqual({ phase: "connecting", effects: ["connect"] });
  });

  it("connects once even when the status answer and the events stream both say live", () => {
    expect(run([{ type: "live", live: true }, { type: "live", live: true }]).effects).toEqual(["connect"]);
  });

  it("ends and closes everything when the stream stops, whoever notices first", () => {
    const live: PageEvent[] = [{ type: "live", live: true }, { type: "playing" }];
    expect(run([...live, { type: "live", live: false }])).toEqual({ phase: "ended", effects: ["connect", "close"] });
    expect(run([...live, { type: "room_closed", ended: true }, { type: "live", live: false }])).toEqual({ phase: "ended", effects: ["connect", "close"] });
  });

  it("shows reconnecting while the room recovers and live again after", () => {
    const r = run([{ type: "live", live: true }, { type: "playing" }, { type: "room_reconnecting" }]);
    expect(r.phase).toBe("reconnecting");
    expect(next(r.phase, { type: "room_reconnected" }).phase).toBe("live");
  });

  it("turns a lost room into an error that can be retried", () => {
    const r = run([{ type: "live", live: true }, { type: "playing" }, { type: "room_closed", ended: false }]);
    expect(r).toEqual({ phase: "error", effects: ["connect", "leave_room"] });
    expect(next(r.phase, { type: "retry" })).toEqual({ phase: "loading", effect: "reload" });
  });

  it("goes offline, not to an error, when the token says the stream just ended", () => {
    expect(run([{ type: "live", live: true }, { type: "token_failed", failure: "offline" }]).phase).toBe("offline");
    expect(run([{ type: "live", live: true }, { type: "token_failed", failure: "rate_limited" }]).phase).toBe("error");
  });

  it("ignores a retry while watching", () => {
    expect(next("live", { type: "retry" })).toEqual({ phase: "live", effect: null });
  });
});
