/**
 * The soak's faults, one chosen at random each time: a consumer SIGKILLed (then started
 * again), Redis restarted (gracefully, or SIGKILLed and started from its AOF), Herald's
 * connections killed with CLIENT KILL, or the proxy blackholed for a few seconds then healed.
 */
import { connectRedis as connect, type RedisServerHandle } from '../../src/index.ts';
import type { TcpProxy } from '../../src/testing/index.ts';
import type { SoakChild } from './children.ts';

/** Attempts to bring Redis back in one redis-restart fault. */
const RESTART_ATTEMPTS = 5;

export const FAULTS = ['consumer-kill', 'redis-restart', 'client-kill', 'blackhole'] as const;
export type Fault = (typeof FAULTS)[number];

const CONSUMER_DOWN_MS = 1000;
const BLACKHOLE_MIN_MS = 2000;
const BLACKHOLE_MAX_MS = 5000;

/** A small seeded generator (mulberry32): the same seed gives the same faults at the same times. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FaultTargets {
  readonly redis: RedisServerHandle;
  readonly proxy: TcpProxy;
  readonly consumers: readonly SoakChild[];
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** Injects one fault and waits until it is over (the victim restarted, the proxy healed). Returns what was done. */
export async function injectFault(
  fault: Fault,
  t: FaultTargets,
  random: () => number,
): Promise<string> {
  switch (fault) {
    case 'consumer-kill': {
      const victim = pick(t.consumers, random);
      await victim.kill();
      await sleep(CONSUMER_DOWN_MS);
      victim.start();
      return `SIGKILL ${victim.name}, restarted`;
    }
    case 'redis-restart': {
      const crash = random() < 0.5;
      if (crash) await t.redis.kill();
      // A restart that fails must not leave Redis down for the rest of the soak: that would
      // measure the harness, not Herald. Try again; report how many attempts it took.
      for (let attempt = 1; ; attempt++) {
        try {
          await t.redis.restart();
          const how = crash ? 'Redis SIGKILLed, started from its AOF' : 'Redis stopped and started';
          return attempt === 1 ? how : `${how} (after ${attempt} attempts)`;
        } catch (e) {
          if (attempt >= RESTART_ATTEMPTS) throw e;
        }
      }
    }
    case 'client-kill': {
      // Straight to Redis, not through the proxy: this connection is the only one spared.
      const admin = await connect({ url: t.redis.url });
      try {
        const killed = await admin.send<number>([
          'CLIENT',
          'KILL',
          'TYPE',
          'normal',
          'SKIPME',
          'yes',
        ]);
        return `CLIENT KILL: ${killed} connections`;
      } finally {
        await admin.close();
      }
    }
    case 'blackhole': {
      const ms = BLACKHOLE_MIN_MS + Math.floor(random() * (BLACKHOLE_MAX_MS - BLACKHOLE_MIN_MS));
      t.proxy.blackhole();
      await sleep(ms);
      t.proxy.heal();
      return `proxy blackholed for ${ms} ms, healed`;
    }
  }
}
