/** Messages between the scale benchmark (main.ts) and its worker processes (worker.ts). */

export type ParentMessage = { readonly cmd: 'start' } | { readonly cmd: 'stop' };

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly count: number }
  /** Events published (producer) or handled (consumer), and CPU µs used since `start`. */
  | { readonly type: 'done'; readonly count: number; readonly cpuMicros: number };
