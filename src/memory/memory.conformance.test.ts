import { runConformanceSuite } from '../testing/index.ts';
import { MemoryBackend } from './index.ts';

runConformanceSuite('memory', {
  create: () => Promise.resolve(new MemoryBackend()),
  features: {
    durable: false,
    crossProcess: false,
    deadLetters: true,
    partitions: true,
    rawCodec: true,
  },
});
