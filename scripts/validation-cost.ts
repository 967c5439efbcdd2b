/**
 * What publish-side validation costs per event, in CPU time (best of 12 rounds, so a loaded
 * machine skews it less): the whole preparation of an event (checks, encoding, size) and the
 * two checks added for docs/security.md#input-validation on their own.
 *
 *   node --import tsx bench/validation-cost.ts
 */
import { encodeEnvelope, entryBytesOver } from '../src/core/codec.ts';
import { findLossyValue } from '../src/core/encodable.ts';
import { prepareEvents } from '../src/core/prepare.ts';
import { DEFAULT_MAX_EVENT_BYTES, defineTopic } from '../src/core/topic.ts';

const ROUNDS = 12;
const BATCHES = 1000;
const BATCH_SIZE = 100;

const topic = defineTopic({ name: 'orders', partitions: 4 });
const order = (i: number): { key: string; type: string; data: unknown } => ({
  key: `c-${i % 50}`,
  type: 'order.created',
  data: {
    orderId: `o-${i}`,
    customer: { id: 'c-42', name: 'Ada Lovelace', tags: ['vip', 'eu'] },
    items: [
      { sku: 'A1', qty: 2, price: 9.99 },
      { sku: 'B2', qty: 1, price: 19.5 },
    ],
    total: 39.48,
    paid: true,
  },
});
const batch = Array.from({ length: BATCH_SIZE }, (_, i) => order(i));
const fields = encodeEnvelope(topic, batch[0] as ReturnType<typeof order>, { source: 'bench' });

async function bestNsPerEvent(run: () => unknown): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < BATCHES; i++) await run();
    const used = process.cpuUsage(start);
    best = Math.min(best, ((used.user + used.system) * 1000) / (BATCHES * BATCH_SIZE));
  }
  return best;
}

const payloadBytes = JSON.stringify(batch[0]?.data).length;
const prepare = await bestNsPerEvent(() => prepareEvents(topic, batch, 'bench'));
const walk = await bestNsPerEvent(() => {
  for (const e of batch) findLossyValue(e.data);
});
const size = await bestNsPerEvent(() => {
  for (let i = 0; i < BATCH_SIZE; i++) entryBytesOver(fields, DEFAULT_MAX_EVENT_BYTES);
});
console.log(
  `payload ${payloadBytes} bytes, batches of ${BATCH_SIZE}, CPU ns per event (best of ${ROUNDS}):`,
);
console.log(`  prepareEvents (all checks + encoding)  ${prepare.toFixed(0)}`);
console.log(`  of which the JSON-faithfulness walk     ${walk.toFixed(0)}`);
console.log(`  of which the size check                 ${size.toFixed(0)}`);
