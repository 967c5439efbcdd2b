/** Starts, kills and stops the soak's child processes; each writes its stderr to a log file. */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STOP_GRACE_MS = 10_000;

export type ChildKind = 'publisher' | 'consumer';

export class SoakChild {
  private proc: ChildProcess | undefined;
  starts = 0;

  constructor(
    readonly kind: ChildKind,
    readonly name: string,
    private readonly url: string,
    readonly idsFile: string,
    private readonly logFile: string,
  ) {}

  start(): void {
    const log = openSync(this.logFile, 'a');
    this.proc = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, `${this.kind}.ts`)], {
      env: {
        ...process.env,
        HERALD_LOG_LEVEL: process.env.HERALD_LOG_LEVEL ?? 'warn',
        SOAK_URL: this.url,
        SOAK_NAME: this.name,
        SOAK_IDS_FILE: this.idsFile,
      },
      stdio: ['ignore', log, log],
    });
    this.starts++;
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private exited(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => p.once('exit', () => resolve()));
  }

  /** SIGKILL (a crash) and wait for the exit. */
  async kill(): Promise<void> {
    const done = this.exited();
    this.proc?.kill('SIGKILL');
    await done;
  }

  /** SIGTERM, SIGKILL after a grace period; resolves once the child is gone. */
  async stop(): Promise<void> {
    const done = this.exited();
    this.proc?.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), STOP_GRACE_MS);
    await done;
    clearTimeout(timer);
  }
}
