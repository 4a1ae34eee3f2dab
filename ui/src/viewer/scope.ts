// Everything the page keeps running — timers, the events stream, the LiveKit room — is
// opened through one Scope, so leaving the page or the stream ending closes all of it and
// the page can say what is still open.

export interface Closable {
  close(): void;
}

export interface OpenCounts {
  timers: number;
  eventStreams: number;
  rooms: number;
}

export class Scope {
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private intervals = new Set<ReturnType<typeof setInterval>>();
  private streams = new Set<Closable>();
  private rooms = new Set<Closable>();

  timeout(fn: () => void, ms: number): void {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
  }

  /** Resolves after `ms`, or never if the scope closes first. */
  delay(ms: number): Promise<void> {
    return new Promise((resolve) => this.timeout(resolve, ms));
  }

  interval(fn: () => void, ms: number): () => void {
    const id = setInterval(fn, ms);
    this.intervals.add(id);
    return () => {
      clearInterval(id);
      this.intervals.delete(id);
    };
  }

  eventStream<T extends Closable>(stream: T): T {
    this.streams.add(stream);
    return stream;
  }

  room<T extends Closable>(room: T): T {
    this.rooms.add(room);
    return room;
  }

  closeRooms(): void {
    for (const room of this.rooms) room.close();
    this.rooms.clear();
  }

  closeAll(): void {
    this.closeRooms();
    for (const stream of this.streams) stream.close();
    this.streams.clear();
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    for (const id of this.intervals) clearInterval(id);
    this.intervals.clear();
  }

  open(): OpenCounts {
    return { timers: this.timers.size + this.intervals.size, eventStreams: this.streams.size, rooms: this.rooms.size };
  }
}
