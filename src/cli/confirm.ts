/** Asking before a destructive command, or requiring --yes when nobody can answer. */
import { createInterface } from 'node:readline/promises';
import { ConfigError } from '../core/errors.ts';

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/**
 * True when the operator agreed (or gave --yes). Without a terminal and without
 * --yes it throws a ConfigError naming what would happen, so scripts never act by surprise.
 */
export async function confirmed(what: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new ConfigError(`this would ${what}: add --yes to confirm`);
  return ask(`This will ${what}. Go ahead?`);
}
