/**
 * Errors as HTTP answers: a status, a stable code and a one-line message.
 * Never a stack trace: unexpected errors are logged and answered with a
 * generic message.
 */
import { ErrorCode, isHeraldError } from '../core/errors.ts';

/** Seconds a client should wait after a capacity refusal or a Redis outage. */
export const RETRY_AFTER_SECONDS = 5;

export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    /** For invalid events: the index of the first bad one in the request. */
    readonly index?: number;
    readonly issues?: readonly unknown[];
  };
}

/** An error raised by the gateway itself, with its status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { index?: number; retryAfter?: number; issues?: readonly unknown[] } = {},
  ) {
    super(message);
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: ErrorBody;
  readonly retryAfter?: number;
  /** True when the error was not expected (it is logged). */
  readonly unexpected: boolean;
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'HERALD_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'HERALD_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'HERALD_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'HERALD_VALIDATION',
};

/** Maps any thrown value to an HTTP answer. */
export function toHttpAnswer(e: unknown): HttpAnswer {
  const answer = (
    status: number,
    code: string,
    message: string,
    extra: { index?: number; retryAfter?: number; issues?: readonly unknown[] } = {},
  ): HttpAnswer => ({
    status,
    body: {
      error: {
        code,
        message,
        ...(extra.index !== undefined ? { index: extra.index } : {}),
        ...(extra.issues !== undefined ? { issues: extra.issues } : {}),
      },
    },
    ...(extra.retryAfter !== undefined ? { retryAfter: extra.retryAfter } : {}),
    unexpected: false,
  });
  if (e instanceof HttpError) return answer(e.status, e.code, e.message, e.extra);
  if (isHeraldError(e)) {
    switch (e.code) {
      case ErrorCode.NotFound:
        return answer(404, e.code, e.message);
      case ErrorCode.Validation:
      case ErrorCode.Config: {
        const index = /event #(\d+)/.exec(e.message)?.[1];
        return answer(400, e.code, e.message, index !== undefined ? { index: Number(index) } : {});
      }
      case ErrorCode.Capacity:
        return answer(503, e.code, e.message, { retryAfter: RETRY_AFTER_SECONDS });
      case ErrorCode.Connection:
      case ErrorCode.Timeout:
      case ErrorCode.Closed:
      case ErrorCode.Busy:
        return answer(503, e.code, e.message, { retryAfter: RETRY_AFTER_SECONDS });
      default:
        return { ...answer(500, e.code, 'internal error'), unexpected: true };
    }
  }
  const f = e as { code?: unknown; statusCode?: unknown; message?: unknown } | null;
  if (typeof f?.code === 'string' && typeof f.statusCode === 'number' && f.statusCode < 500) {
    return answer(f.statusCode, FASTIFY_CODES[f.code] ?? 'HERALD_BAD_REQUEST', String(f.message));
  }
  return { ...answer(500, 'HERALD_INTERNAL', 'internal error'), unexpected: true };
}
