/**
 * The recommended way to connect: a Redis backend with the protections an
 * operator expects switched on.
 * - the capacity guard (refuse publishes above 90% of maxmemory; warns at start-up when
 *   maxmemory is unset or the eviction policy could delete streams),
 * - replicated durability available to topics and publishes that ask for it (WAIT),
 * - optionally, prom-client metrics in your registry.
 * `RedisBackend.connect` gives the bare backend for those who wire these themselves.
 */
import type { Registry } from 'prom-client';
import { RedisBackend, type RedisBackendOptions } from './redis/backend.ts';
import { enableCapacityGuard, type CapacityGuardOptions } from './ops/capacity.ts';
import { enableDurability } from './ops/durability.ts';
import { instrument, type InstrumentOptions } from './ops/metrics.ts';

export interface HeraldOptions extends RedisBackendOptions {
  /** Capacity guard settings, or false to run without it. Default: on, threshold 0.9. */
  readonly capacity?: CapacityGuardOptions | false;
  /** Record library metrics (events published, handler durations, retries, dead letters…). Default: off. */
  readonly metrics?: (InstrumentOptions & { readonly registry: Registry }) | false;
}

export async function connectHerald(options: HeraldOptions = {}): Promise<RedisBackend> {
  const backend = await RedisBackend.connect(options);
  try {
    if (options.capacity !== false) await enableCapacityGuard(backend, options.capacity ?? {});
    await enableDurability(backend);
    if (options.metrics) {
      const metrics = instrument(backend, options.metrics);
      backend.addHook('close', () => metrics.stop());
    }
  } catch (e) {
    await backend.close();
    throw e;
  }
  return backend;
}
