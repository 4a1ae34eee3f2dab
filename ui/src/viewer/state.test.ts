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

  it("shows the paywall when a ticket is needed, and buying paid at once goes on to play", () => {
    const paywall: PageEvent[] = [{ type: "live", live: true }, { type: "payment_required" }];
    expect(run(paywall).phase).toBe("paywall");
    expect(run([...paywall, { type: "buy" }, { type: "ticket_paid" }, { type: "playing" }])).toEqual({
      phase: "live",
      effects: ["connect", "buy", "connect"],
    });
  });

  it("back from checkout before the payment is confirmed, waits for it and then plays", () => {
    expect(run([{ type: "live", live: true }, { type: "payment_pending" }, { type: "ticket_paid" }])).toEqual({
      phase: "connecting",
      effects: ["connect", "await_payment", "connect"],
    });
  });

  it("a purchase that fails goes back to the paywall, and an ended stream leaves it", () => {
    const buying: PageEvent[] = [{ type: "live", live: true }, { type: "payment_required" }, { type: "buy" }];
    expect(run([...buying, { type: "purchase_failed" }]).phase).toBe("paywall");
    expect(run([...buying, { type: "purchase_failed" }, { type: "live", live: false }])).toEqual({
      phase: "ended",
      effects: ["connect", "buy", "close"],
    });
  });

  it("pressing buy twice starts one purchase", () => {
    const twice: PageEvent[] = [{ type: "live", live: true }, { type: "payment_required" }, { type: "buy" }, { type: "buy" }];
    expect(run(twice).effects).toEqual(["connect", "buy"]);
  });
});
