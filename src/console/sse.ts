/**
 * Server-sent events on a raw Node response: headers that keep proxies from
 * buffering, a comment as heartbeat so idle connections stay open, and a
 * signal that fires when the client goes away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Heartbeat interval: below common proxy idle timeouts (60 s). */
export const SSE_HEARTBEAT_MS = 15_000;

export interface SseStream {
  /** Sends one event; resolves when the socket took it (backpressure). */
  send(event: string, data: unknown, id?: string): Promise<void>;
  /** Aborted when the client disconnects or the stream is closed. */
  readonly signal: AbortSignal;
  close(): void;
}

export function openSse(req: IncomingMessage, res: ServerResponse): SseStream {
  const controller = new AbortController();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': herald\n\n');
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), SSE_HEARTBEAT_MS);
  heartbeat.unref();
  const stop = (): void => {
    clearInterval(heartbeat);
    if (!controller.signal.aborted) controller.abort();
  };
  req.socket.once('close', stop);
  res.once('close', stop);
  return {
    signal: controller.signal,
    send(event, data, id) {
      if (controller.signal.aborted) return Promise.resolve();
      const lines = `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      if (res.write(lines)) return Promise.resolve();
      return new Promise((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          controller.signal.removeEventListener('abort', done);
          resolve();
        };
        res.once('drain', done);
        controller.signal.addEventListener('abort', done);
      });
    },
    close() {
      stop();
      res.end();
    },
  };
}
