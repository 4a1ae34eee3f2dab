import { afterEach, describe, expect, it, vi } from "vitest";
import { Scope } from "./scope";

afterEach(() => vi.useRealTimers());

describe("the page's scope", () => {
  it("closes rooms, event streams and timers, and then reports nothing open", () => {
    vi.useFakeTimers();
    const scope = new Scope();
    const closed: string[] = [];
    const fired: string[] = [];
    scope.room({ close: () => closed.push("room") });
    scope.eventStream({ close: () => closed.push("events") });
    scope.timeout(() => fired.push("timeout"), 1000);
    scope.interval(() => fired.push("tick"), 100);
    expect(scope.open()).toEqual({ timers: 2, eventStreams: 1, rooms: 1 });
    scope.closeAll();
    vi.advanceTimersByTime(5000);
    expect(closed).toEqual(["room", "events"]);
    expect(fired).toEqual([]);
    expect(scope.open()).toEqual({ timers: 0, eventStreams: 0, rooms: 0 });
  });

  it("forgets a timeout once it has fired and an interval once it is stopped", () => {
    vi.useFakeTimers();
    const scope = new Scope();
    scope.timeout(() => {}, 10);
    const stop = scope.interval(() => {}, 10);
    vi.advanceTimersByTime(20);
    expect(scope.open().timers).toBe(1);
    stop();
    expect(scope.open().timers).toBe(0);
  });

  it("can leave the room and keep the events stream", () => {
    const scope = new Scope();
    scope.room({ close: () => {} });
    scope.eventStream({ close: () => {} });
    scope.closeRooms();
    expect(scope.open()).toEqual({ timers: 0, eventStreams: 1, rooms: 0 });
  });
});
