/**
 * A small fan-out of values to any number of async iterators: each call to
 * `subscribe()` sees the values pushed after it, and ends when the broadcast ends.
 * Listeners that fall behind keep a bounded buffer (oldest values are dropped).
 */
export class Broadcast<T> {
  private readonly listeners = new Set<{ buffer: T[]; wake: (() => void) | undefined }>();
  private ended = false;

  constructor(private readonly bufferLimit = 1000) {}

  push(value: T): void {
    for (const l of this.listeners) {
      l.buffer.push(value);
      if (l.buffer.length > this.bufferLimit) l.buffer.shift();
      l.wake?.();
    }
  }

  end(): void {
    this.ended = true;
    for (const l of this.listeners) l.wake?.();
  }

  subscribe(): AsyncIterable<T> {
    const listener: { buffer: T[]; wake: (() => void) | undefined } = {
      buffer: [],
      wake: undefined,
    };
    this.listeners.add(listener);
    const next = async (): Promise<IteratorResult<T>> => {
      for (;;) {
        if (listener.buffer.length > 0) return { value: listener.buffer.shift() as T, done: false };
        if (this.ended) {
          this.listeners.delete(listener);
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => (listener.wake = resolve));
        listener.wake = undefined;
      }
    };
    const stop = (): Promise<IteratorResult<T>> => {
      this.listeners.delete(listener);
      return Promise.resolve({ value: undefined, done: true });
    };
    return { [Symbol.asyncIterator]: () => ({ next, return: stop }) };
  }
}
