/** Shared pieces of the conformance suite: backend lifetime, gates, status recording, error checks. */
import assert from 'node:assert/strict';
import type {
  Backend,
  BackendFeatures,
  Subscription,
  SubscriptionStatus,
} from '../core/contract.ts';
import { ErrorCode, isHeraldError, type ValidationIssue } from '../core/errors.ts';
import type { StandardSchemaV1 } from '../core/schema.ts';
import { waitFor } from '../test-support/redis.ts';
import { assertNoLoss, describeReport, type DeliveryChecker } from './checker.ts';

export { waitFor };

/** What a backend hands the suite: a way to make a fresh, isolated backend, and what it claims to support. */
export interface ConformanceFactory {
  /** A new backend isolated from every other one the suite creates (Redis: a unique key prefix). */
  create(): Promise<Backend>;
  readonly features: BackendFeatures;
}

/** Generous, for two shared cores: a slow run waits longer, a broken one still fails. */
export const TEST_TIMEOUT_MS = 45_000;
export const WAIT_MS = 20_000;

/** Runs `fn` with a fresh backend and always closes it. */
export async function withBackend<R>(
  factory: ConformanceFactory,
  fn: (b: Backend) => Promise<R>,
): Promise<R> {
  const backend = await factory.create();
  try {
    return await fn(backend);
  } finally {
    await backend.close({ deadlineMs: 2000 });
  }
}

/** A promise a test opens by hand: a handler awaits it to stay "in flight". */
export class Gate {
  readonly opened: Promise<void>;
  open!: () => void;
  constructor() {
    this.opened = new Promise<void>((resolve) => (this.open = resolve));
  }
}

/** Collects a subscription's status changes until it closes. Call right after subscribe. */
export function recordStatus(sub: Subscription): {
  readonly seen: SubscriptionStatus[];
  readonly ended: Promise<void>;
} {
  const seen: SubscriptionStatus[] = [];
  const ended = (async () => {
    for await (const s of sub.status()) seen.push(s);
  })();
  return { seen, ended };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function hasCode(e: unknown, code: ErrorCode): boolean {
  return isHeraldError(e) && e.code === code;
}

/**
 * Asserts that a promise-returning call rejects with a Herald error of `code`,
 * and does not throw synchronously (callers chain `.catch` on the promise).
 */
export async function assertRejectsWithCode(
  what: string,
  code: ErrorCode,
  call: () => Promise<unknown>,
): Promise<unknown> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (e) {
    assert.fail(`${what} threw synchronously (${String(e)}); it must return a rejected promise`);
  }
  let caught: unknown;
  await assert.rejects(promise, (e) => {
    caught = e;
    assert.ok(hasCode(e, code), `${what} should reject with ${code}, got ${String(e)}`);
    return true;
  });
  return caught;
}

/** Asserts that a call the backend declares unsupported fails with UnsupportedError, thrown or rejected. */
export async function assertUnsupported(what: string, call: () => unknown): Promise<void> {
  let result: unknown;
  try {
    result = call();
  } catch (e) {
    assert.ok(
      hasCode(e, ErrorCode.Unsupported),
      `${what} should fail with UnsupportedError, got ${String(e)}`,
    );
    return;
  }
  await assert.rejects(
    Promise.resolve(result),
    (e) => {
      assert.ok(
        hasCode(e, ErrorCode.Unsupported),
        `${what} should fail with UnsupportedError, got ${String(e)}`,
      );
      return true;
    },
    `${what} should fail with UnsupportedError but succeeded`,
  );
}

/** Asserts a ValidationError whose issues name `field`. */
export function assertValidationNames(field: string): (e: unknown) => true {
  return (e) => {
    assert.ok(hasCode(e, ErrorCode.Validation), `expected a ValidationError, got ${String(e)}`);
    const issues = (e as { issues?: readonly ValidationIssue[] }).issues ?? [];
    assert.ok(
      issues.some((i) => i.path.includes(field)),
      `the ValidationError's issues should name '${field}': ${JSON.stringify(issues)}`,
    );
    return true;
  };
}

/** Waits until every acknowledged publish was handled, then fails with the checker's report if not. */
export async function assertAllDelivered(
  checker: DeliveryChecker,
  timeoutMs = WAIT_MS,
): Promise<void> {
  await waitFor(() => checker.allDelivered(), { timeoutMs, intervalMs: 20 }).catch(() => {});
  const report = checker.report();
  assertNoLoss(report, { allowDuplicates: true });
  assert.ok(report.published > 0, `nothing was published: ${describeReport(report)}`);
}

export interface Payment {
  readonly amount: number;
  readonly currency: string;
}

/** A hand-written Standard Schema (no validator library needed): amount a number, currency a 3-letter string. */
export const paymentSchema: StandardSchemaV1<unknown, Payment> = {
  '~standard': {
    version: 1,
    vendor: 'herald-conformance',
    validate(value: unknown): StandardSchemaV1.Result<Payment> {
      if (value === null || typeof value !== 'object')
        return { issues: [{ message: 'expected an object' }] };
      const v = value as Record<string, unknown>;
      const issues: StandardSchemaV1.Issue[] = [];
      if (typeof v.amount !== 'number')
        issues.push({ message: 'expected a number', path: ['amount'] });
      if (typeof v.currency !== 'string' || v.currency.length !== 3) {
        issues.push({ message: 'expected a 3-letter code', path: [{ key: 'currency' }] });
      }
      if (issues.length > 0) return { issues };
      return { value: { amount: v.amount as number, currency: v.currency as string } };
    },
  },
};
