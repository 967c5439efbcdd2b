/**
 * Herald's typed errors. Every error Herald throws is a `HeraldError` with a
 * stable `code` (listed in docs/errors.md; a test checks the two agree) and,
 * where another error caused it, the standard `cause`.
 */

/** The registry of error codes. Add a code here and in docs/errors.md together. */
export const ErrorCode = {
  Validation: 'HERALD_VALIDATION',
  Capacity: 'HERALD_CAPACITY',
  Connection: 'HERALD_CONNECTION',
  Timeout: 'HERALD_TIMEOUT',
  Decode: 'HERALD_DECODE',
  Config: 'HERALD_CONFIG',
  Closed: 'HERALD_CLOSED',
  Durability: 'HERALD_DURABILITY',
  Unsupported: 'HERALD_UNSUPPORTED',
  NotFound: 'HERALD_NOT_FOUND',
  Redis: 'HERALD_REDIS',
  Busy: 'HERALD_BUSY',
  Auth: 'HERALD_AUTH',
  Tls: 'HERALD_TLS',
  Permission: 'HERALD_PERMISSION',
  OwnershipLost: 'HERALD_OWNERSHIP_LOST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class HeraldError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem found by a schema, with the path of the offending field. */
export interface ValidationIssue {
  readonly message: string;
  readonly path: readonly (string | number)[];
}

/**
 * Data rejected by a topic's schema, or an event that is not well formed (data JSON cannot
 * encode, an attribute that is not a string, an event over the size limit). Nothing was
 * written: not this event, nor any other event of the same publish or batch.
 */
export class ValidationError extends HeraldError {
  readonly issues: readonly ValidationIssue[];
  /** The position of the offending event in the batch (0 for a single publish), when one event is to blame. */
  readonly index: number | undefined;
  /** The offending attribute of that event: `data`, `type`, `key`, `id`, `headers`, … */
  readonly field: string | undefined;
  constructor(
    message: string,
    issues: readonly ValidationIssue[] = [],
    options?: { cause?: unknown; index?: number; field?: string },
  ) {
    super(ErrorCode.Validation, message, options);
    this.issues = issues;
    this.index = options?.index;
    this.field = options?.field;
  }
}

/** Redis is too close to its memory limit: the publish was refused and nothing was written. */
export class CapacityError extends HeraldError {
  readonly usedBytes: number | undefined;
  readonly limitBytes: number | undefined;
  readonly threshold: number | undefined;
  constructor(
    message: string,
    figures: { usedBytes?: number; limitBytes?: number; threshold?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.Capacity, message, options);
    this.usedBytes = figures.usedBytes;
    this.limitBytes = figures.limitBytes;
    this.threshold = figures.threshold;
  }
}

/**
 * The connection to Redis failed while a command was in flight. For a publish
 * the outcome is unknown: retry with the same event id, which is deduplicated.
 */
export class ConnectionError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Connection, message, options);
  }
}

/** An operation did not finish in time. For a publish the outcome is unknown (retry with the same id). */
export class TimeoutError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Timeout, message, options);
  }
}

/** A stream entry could not be decoded into an event (no envelope, bad JSON, schema failure). */
export class DecodeError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Decode, message, options);
  }
}

/** Options or a topic declaration that cannot work. */
export class ConfigError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Config, message, options);
  }
}

/** The client, subscription or queue was closed. */
export class ClosedError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Closed, message, options);
  }
}

/**
 * A replicated publish was written on the primary but too few replicas
 * confirmed it in time. The outcome is UNKNOWN, not failed: the event may be
 * delivered, and may be lost if the primary fails before replicating it.
 */
export class DurabilityError extends HeraldError {
  readonly acknowledgedReplicas: number;
  readonly requiredReplicas: number;
  constructor(
    message: string,
    figures: { acknowledged: number; required: number },
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.Durability, message, options);
    this.acknowledgedReplicas = figures.acknowledged;
    this.requiredReplicas = figures.required;
  }
}

/** The backend cannot do this (see its `features`). */
export class UnsupportedError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Unsupported, message, options);
  }
}

/** A topic, group, or dead letter that does not exist. */
export class NotFoundError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.NotFound, message, options);
  }
}

/** Redis answered with an error Herald has no better class for. */
export class RedisError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Redis, message, options);
  }
}

/** Someone else holds this right now (an idempotency lease on the same event): retry later. */
export class BusyError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Busy, message, options);
  }
}

/**
 * Redis refused the credentials (wrong password or user, none given where one is needed).
 * Retrying cannot help, so a connect fails at once with this rather than timing out.
 */
export class AuthError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Auth, message, options);
  }
}

/**
 * The TLS handshake failed: the server's certificate is not trusted or names another host, the
 * server wants a client certificate, or one side does not speak TLS. A connect fails at once.
 */
export class TlsError extends HeraldError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Tls, message, options);
  }
}

/**
 * Redis's ACL refused a command for this connection's user (NOPERM, also from inside a
 * Herald function). `command` names what was refused as sent ('XADD', 'FCALL
 * herald_<version>_dead_letter'); `key` is the first key it named, when it had one.
 * Nothing was done by the refused command.
 */
export class PermissionError extends HeraldError {
  readonly command: string;
  readonly key: string | undefined;
  constructor(
    message: string,
    options?: { cause?: unknown; command?: string | undefined; key?: string | undefined },
  ) {
    super(ErrorCode.Permission, message, options);
    this.command = options?.command ?? '';
    this.key = options?.key;
  }
}

/**
 * An ordered subscription no longer owns the partition it worked on: its lease expired and
 * another instance took the partition over (a higher epoch), so Redis rejected the
 * acknowledgement, claim, dead letter or read. Nothing was done by the rejected command; the
 * event goes to the partition's new owner. `partition` and `epoch` name the lost ownership.
 */
export class OwnershipLostError extends HeraldError {
  readonly partition: number | undefined;
  readonly epoch: number | undefined;
  constructor(
    message: string,
    options?: { cause?: unknown; partition?: number | undefined; epoch?: number | undefined },
  ) {
    super(ErrorCode.OwnershipLost, message, options);
    this.partition = options?.partition;
    this.epoch = options?.epoch;
  }
}

export function isHeraldError(e: unknown): e is HeraldError {
  return e instanceof HeraldError;
}
