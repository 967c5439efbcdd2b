/** Finding a program the project starts (redis-server, haproxy): on PATH, else where Debian puts it. */
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of `name` on PATH, else the first executable of `fallbacks`; undefined if absent. */
export function findBinary(name: string, fallbacks: readonly string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return fallbacks.find(isExecutable);
}
