import { runConformanceSuite } from '../testing/index.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';

runConformanceSuite('redis', {
  create: () => RedisBackend.connect({ url: testRedisUrl(), prefix: uniquePrefix('conf') }),
  features: {
    durable: true,
    crossProcess: true,
    deadLetters: true,
    partitions: true,
    rawCodec: true,
  },
});
