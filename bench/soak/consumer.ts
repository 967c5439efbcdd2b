/**
 * A soak consumer (a child process): subscribes to the soak topic in the soak group
 * through the proxy, under a name that survives its restarts, and records each event id
 * when its handler finishes (before Herald acknowledges it). SIGTERM: close, then exit.
 */
import { heraldLogger, RedisBackend } from '../../src/index.ts';
import { childEnv, recordIds, SOAK_GROUP, SOAK_PREFIX, SOAK_TOPIC } from './shared.ts';

/** Short, so the events of a killed consumer come back quickly. */
const VISIBILITY_MS = 5000;

const env = childEnv();
const backend = await RedisBackend.connect({
  url: env.url,
  prefix: SOAK_PREFIX,
  logger: heraldLogger(),
});
const sub = backend.subscribe(
  SOAK_TOPIC,
  {
    group: SOAK_GROUP,
    consumer: env.name,
    startFrom: 'beginning',
    visibilityTimeoutMs: VISIBILITY_MS,
  },
  (event) => {
    recordIds(env.idsFile, [event.id]);
  },
);
process.on('SIGTERM', () => {
  void sub
    .close({ deadlineMs: 5000 })
    .then(() => backend.close())
    .finally(() => process.exit(0));
});
