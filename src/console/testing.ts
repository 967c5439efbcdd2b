/** Test helpers for the console: HTTP calls with a token, and a server-sent event reader. */

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

export interface SseReader {
  readonly status: number;
  /** The next event of this name (others are skipped), waiting at most timeoutMs. */
  next(event: string, timeoutMs?: number): Promise<unknown>;
  close(): void;
}

/** Opens a server-sent event stream with fetch. */
export async function openSseReader(url: string, token?: string): Promise<SseReader> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: {
      accept: 'text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    signal: controller.signal,
  });
  const queue: SseEvent[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  void (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data !== '') queue.push({ event, data: JSON.parse(data) as unknown });
          wake?.();
        }
      }
    } catch {
      // aborted
    }
    ended = true;
    wake?.();
  })();
  return {
    status: res.status,
    async next(event, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = queue.findIndex((e) => e.event === event);
        if (i >= 0) return (queue.splice(0, i + 1)[i] as SseEvent).data;
        if (ended) throw new Error(`stream ended before a '${event}' event`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no '${event}' event within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, left).unref();
        });
      }
    },
    close: () => controller.abort(),
  };
}

/** fetch with a bearer token and a JSON body. */
export async function call(
  url: string,
  options: { method?: string; token?: string; body?: unknown; contentType?: string } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined
        ? { 'content-type': options.contentType ?? 'application/json' }
        : {}),
    },
    ...(options.body !== undefined
      ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
      : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}
