import { describe, expect, it } from "vitest";
import { clock, liveLine, uploadText } from "./recordings-panel";
import type { RecordingItem } from "./bindings";

const item = (upload: RecordingItem["upload"], stream_id: number | null = 7): RecordingItem => ({
  file: "OnAir 2026-12-08 18-04-05.mp4",
  bytes: 4_600_000,
  modified_ms: 0,
  stream_id,
  upload,
});

describe("the recordings panel", () => {
  it("shows the live recording's length and size", () => {
    expect(liveLine({ file: "a.mp4", duration_secs: 72.4, bytes: 4_600_000, stopped: null })).toBe("REC 1:12 · 4.6 MB · a.mp4");
    expect(clock(3723)).toBe("1:02:03");
  });

  it("says a stopped recording stopped and the stream goes on", () => {
    expect(liveLine({ file: "a.mp4", duration_secs: 3, bytes: 1, stopped: "disk_full: …" })).toContain("the stream goes on");
  });

  it("says where each upload stands", () => {
    expect(uploadText(item({ kind: "uploading", percent: 42.7 }))).toBe("uploading 43 %");
    expect(uploadText(item({ kind: "uploaded", replay_url: "x" }))).toBe("replay online");
    expect(uploadText(item({ kind: "failed", message: "offline" }))).toBe("upload failed: offline");
    expect(uploadText(item({ kind: "local" }, null))).toBe("not uploaded");
  });
});
