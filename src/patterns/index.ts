/** Reusable building blocks for services built on Herald: idempotent handlers and a transactional outbox. */
export { idempotent, IdempotencyLeaseError, RECORD_DONE } from './idempotent.ts';
export type { IdempotentMiddleware, IdempotentOptions } from './idempotent.ts';
export { Outbox } from './outbox.ts';
export type { OutboxEntry, OutboxOptions } from './outbox.ts';
