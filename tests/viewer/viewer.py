#!/usr/bin/env python3
"""A real LiveKit viewer for OnAir's end-to-end tests, on the official LiveKit Python SDK.

Joins a room with a viewer token, subscribes to everything, and prints JSON lines:
  {"event": "connected", ...}
  {"event": "subscribed", "kind": "video", "codec": "video/VP8", "sid": ...}
  {"event": "first_frame", "since_connect_ms": ..., "width": ..., "height": ...}
  {"event": "muted" | "unmuted" | "unpublished", "sid": ..., "kind": ...}
  {"event": "report", ...}          once a second
  {"event": "summary", ...}         at the end: frames, sizes, frame-id order, latency, audio frequency
  {"event": "disconnected", "reason": ...}
It stops after --duration seconds, when the room ends, or on SIGTERM.
"""
import argparse
import asyncio
import json
import signal
import sys
import time

import numpy as np
from livekit import rtc


def emit(event, **fields):
    fields["event"] = event
    fields["t"] = time.time()
    print(json.dumps(fields), flush=True)


def dominant_frequency(samples, rate):
    if len(samples) < 1024:
        return None
    x = np.asarray(samples, dtype=np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(x))
    spectrum[0] = 0
    peak = int(np.argmax(spectrum))
    if spectrum[peak] < 1e-6:
        return None
    if 0 < peak < len(spectrum) - 1:
        a, b, c = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
    else:
        offset = 0.0
    return (peak + offset) * rate / len(samples)


class Viewer:
    def __init__(self, audio_window_s):
        self.frames = 0
        self.sizes = {}
        self.frame_ids = []
        self.latencies_ms = []
        self.first_frame_at = None
        self.audio = []
        self.audio_samples = 0
        self.audio_rate = 48000
        self.audio_window = int(audio_window_s * 48000)
        self.codecs = {}
        self.tasks = set()

    async def read_video(self, track, connect_started):
        stream = rtc.VideoStream(track)
        async for ev in stream:
            now = time.time()
            self.frames += 1
            size = f"{ev.frame.width}x{ev.frame.height}"
            self.sizes[size] = self.sizes.get(size, 0) + 1
            if self.first_frame_at is None:
                self.first_frame_at = now
                emit("first_frame", since_connect_ms=(now - connect_started) * 1000,
                     width=ev.frame.width, height=ev.frame.height)
            meta = ev.metadata
            if meta is not None:
                if meta.HasField("frame_id"):
                    self.frame_ids.append(meta.frame_id)
                if meta.HasField("user_timestamp") and meta.user_timestamp > 0:
                    self.latencies_ms.append(now * 1000 - meta.user_timestamp / 1000)
        await stream.aclose()

    async def read_audio(self, track):
        stream = rtc.AudioStream(track, sample_rate=48000, num_channels=1)
        async for ev in stream:
            data = np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float32) / 32768.0
            self.audio.extend(data.tolist())
            self.audio_samples += len(data)
            if len(self.audio) > 4 * self.audio_window:
                self.audio = self.audio[-self.audio_window:]
        await stream.aclose()

    def summary(self):
        ids = self.frame_ids
        increasing = all(b > a for a, b in zip(ids, ids[1:]))
        lat = sorted(self.latencies_ms)
        pct = lambda q: lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))] if lat else None
        tail = self.audio[-self.audio_window:]
        rms = float(np.sqrt(np.mean(np.square(tail)))) if tail else None
        return dict(
            frames=self.frames,
            sizes=self.sizes,
            frame_ids_seen=len(ids),
            first_frame_id=ids[0] if ids else None,
            last_frame_id=ids[-1] if ids else None,
            frame_ids_increasing=increasing,
            latency_ms_p50=pct(0.5),
            latency_ms_p95=pct(0.95),
            audio_hz=dominant_frequency(tail, self.audio_rate),
            audio_rms=rms,
            codecs=self.codecs,
        )


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--audio-window", type=float, default=2.0)
    args = ap.parse_args()

    viewer = Viewer(args.audio_window)
    room = rtc.Room()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    connect_started = time.time()

    @room.on("track_subscribed")
    def on_subscribed(track, publication, participant):
        kind = "video" if track.kind == rtc.TrackKind.KIND_VIDEO else "audio"
        viewer.codecs[kind] = publication.mime_type
        emit("subscribed", kind=kind, codec=publication.mime_type, sid=publication.sid,
             participant=participant.identity, width=publication.width, height=publication.height)
        coro = viewer.read_video(track, connect_started) if kind == "video" else viewer.read_audio(track)
        task = asyncio.ensure_future(coro)
        viewer.tasks.add(task)
        task.add_done_callback(viewer.tasks.discard)

    def kind_of(publication):
        return "video" if publication.kind == rtc.TrackKind.KIND_VIDEO else "audio"

    @room.on("track_muted")
    def on_muted(participant, publication):
        emit("muted", sid=publication.sid, kind=kind_of(publication), participant=participant.identity)

    @room.on("track_unmuted")
    def on_unmuted(participant, publication):
        emit("unmuted", sid=publication.sid, kind=kind_of(publication), participant=participant.identity)

    @room.on("track_unpublished")
    def on_unpublished(publication, participant):
        emit("unpublished", sid=publication.sid, kind=kind_of(publication), participant=participant.identity)

    @room.on("participant_disconnected")
    def on_left(participant):
        emit("participant_left", identity=participant.identity)

    @room.on("disconnected")
    def on_disconnected(reason):
        emit("disconnected", reason=rtc.DisconnectReason.Name(reason) if isinstance(reason, int) else str(reason))
        done.set()

    try:
        await room.connect(args.url, args.token, rtc.RoomOptions(auto_subscribe=True))
    except Exception as exc:  # report, never hang
        emit("error", message=str(exc))
        return 2
    emit("connected", room=room.name, since_start_ms=(time.time() - connect_started) * 1000)

    deadline = loop.time() + args.duration
    last_frames = 0
    while not done.is_set() and loop.time() < deadline:
        try:
            await asyncio.wait_for(done.wait(), timeout=min(1.0, max(0.01, deadline - loop.time())))
        except asyncio.TimeoutError:
            pass
        tail = viewer.audio[-48000:]
        recent = np.asarray(viewer.audio[-9600:], dtype=np.float64)  # the last 200 ms
        emit("report", frames=viewer.frames, new_frames=viewer.frames - last_frames,
             audio_samples=viewer.audio_samples,
             audio_hz=dominant_frequency(tail, 48000),
             audio_rms_200ms=float(np.sqrt(np.mean(np.square(recent)))) if recent.size else None,
             audio_peak_200ms=float(np.max(np.abs(recent))) if recent.size else None)
        last_frames = viewer.frames

    emit("summary", **viewer.summary())
    for task in list(viewer.tasks):
        task.cancel()
    await room.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
