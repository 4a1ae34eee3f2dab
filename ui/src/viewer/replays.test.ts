import { describe as group, expect, it } from "vitest";
import { clock, describe, replayPage, videoSource, type Replay } from "./replays";

const replay: Replay = {
  stream_id: 7,
  title: "Friday jam",
  started_at: Date.UTC(2026, 11, 4, 18, 0),
  ended_at: Date.UTC(2026, 11, 4, 19, 2, 3),
  duration_ms: 3_723_000,
  width: 1280,
  height: 720,
  bytes: 1,
  ppv_price_cents: null,
  video_url: "/api/replays/7/video",
  currency: "usd",
  created_at: 0,
};

group("replays on the viewer page", () => {
  it("shows lengths as a clock", () => {
    expect(clock(3_723_000)).toBe("1:02:03");
    expect(clock(245_000)).toBe("4:05");
    expect(clock(0)).toBe("0:00");
  });

  it("links each replay to its page under the streamer", () => {
    expect(replayPage("ali ce", replay)).toBe("/live/ali%20ce/replays/7");
  });

  it("adds the ticket only for a pay-per-view replay", () => {
    expect(videoSource(replay, "tk_1")).toBe("/api/replays/7/video");
    expect(videoSource({ ...replay, ppv_price_cents: 499 }, "tk_1")).toBe("/api/replays/7/video?ticket=tk_1");
    expect(videoSource({ ...replay, ppv_price_cents: 499 }, null)).toBe("/api/replays/7/video");
  });

  it("describes a replay by its day, length and price", () => {
    expect(describe({ ...replay, ppv_price_cents: 499 }, "usd", "en-US")).toBe("Fri, Dec 4 · 1:02:03 · $4.99");
  });
});
