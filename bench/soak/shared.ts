/** What the soak's parent and its publisher and consumer children agree on. */
import { appendFileSync } from 'node:fs';
import { defineTopic } from '../../src/index.ts';

export const SOAK_TOPIC = defineTopic<{ n: number }>({ name: 'soak', partitions: 4 });
export const SOAK_GROUP = 'soak';
export const SOAK_PREFIX = 'soak';

/** Environment a child reads: where Redis is (through the proxy) and where to write its ids. */
export interface ChildEnv {
  readonly url: string;
  readonly name: string;
  readonly idsFile: string;
}

export function childEnv(): ChildEnv {
  const { SOAK_URL, SOAK_NAME, SOAK_IDS_FILE } = process.env;
  if (!SOAK_URL || !SOAK_NAME || !SOAK_IDS_FILE)
    throw new Error('a soak child needs SOAK_URL, SOAK_NAME and SOAK_IDS_FILE');
  return { url: SOAK_URL, name: SOAK_NAME, idsFile: SOAK_IDS_FILE };
}

/**
 * Appends ids, one a line, synchronously: once this returns the lines are in the kernel,
 * so a SIGKILL right after cannot lose them (a buffered write or an IPC message could).
 */
export function recordIds(file: string, ids: readonly string[]): void {
  if (ids.length > 0) appendFileSync(file, ids.join('\n') + '\n');
}
