/**
 * Credentials never leave Herald in anything it shows: errors, logs, status, `--json`,
 * banners, stack traces. Every URL shown goes through `redactUrl`; every text that may
 * embed one (another library's error message, a stack trace) through `redactText`.
 *
 * Passwords are often not URL-safe ("p@ss/w:rd" written raw), so nothing here relies on
 * `new URL`: the credentials are whatever lies between `//` and the last `@` of the URL.
 * That also covers Sentinel and Cluster URLs with several hosts, and URLs no parser accepts.
 */

/** What a secret is replaced with. */
export const REDACTED = '***';

/**
 * Secrets shorter than this are not searched for as literal text by `redactSecrets`: masking
 * every "ab" of a message would garble it, and URLs are masked by their shape anyway.
 */
export const MIN_LITERAL_SECRET_LENGTH = 4;

/** Where the credentials of `url` start: after `//`, or at 0 for a URL without a scheme. */
function credentialsStart(url: string): number {
  const slashes = url.indexOf('//');
  return slashes < 0 ? 0 : slashes + 2;
}

/** `user:password` -> `user:***`; a lone `secret` (no colon) -> `***`. */
function maskUserInfo(userInfo: string): string {
  const colon = userInfo.indexOf(':');
  return colon < 0 ? REDACTED : `${userInfo.slice(0, colon)}:${REDACTED}`;
}

/**
 * The URL with its password masked: `rediss://app:***@host:6380`. The username stays (it
 * names who connects, not a secret); a URL without credentials is returned unchanged.
 */
export function redactUrl(url: string): string {
  const start = credentialsStart(url);
  const at = url.lastIndexOf('@');
  if (at < start) return url;
  return `${url.slice(0, start)}${maskUserInfo(url.slice(start, at))}${url.slice(at)}`;
}

/**
 * A URL with credentials inside free text: a scheme (optional), `//`, then anything up to the
 * last `@` before a space or a quote. Greedy on purpose: a raw `@` or `/` in the password
 * must not end the match early. Not `///` (a `file:///…/node_modules/@scope/…` stack frame).
 */
const URL_WITH_CREDENTIALS = /((?:[a-z][a-z0-9+.-]*:)?(?<!\/)\/\/)([^\s'"`<>/][^\s'"`<>]*)@/gi;

/** Masks the credentials of every URL inside `text` (messages, stack traces, JSON). */
export function redactText(text: string): string {
  return text.replace(
    URL_WITH_CREDENTIALS,
    (_match, prefix: string, userInfo: string) => `${prefix}${maskUserInfo(userInfo)}@`,
  );
}

function decodeQuietly(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The password of `url` as written, decoded and encoded: the literal strings that must never
 * be shown, whatever form a message quotes them in. Empty when the URL carries none.
 */
export function secretsOf(url: string | undefined): string[] {
  if (url === undefined) return [];
  const start = credentialsStart(url);
  const at = url.lastIndexOf('@');
  if (at < start) return [];
  const userInfo = url.slice(start, at);
  const colon = userInfo.indexOf(':');
  // Without a colon the lone part may well be a password written in the username's place.
  const raw = colon < 0 ? userInfo : userInfo.slice(colon + 1);
  const forms = new Set([raw, decodeQuietly(raw), encodeURIComponent(decodeQuietly(raw))]);
  return [...forms].filter((s) => s.length >= MIN_LITERAL_SECRET_LENGTH);
}

/** Replaces every literal occurrence of the given secrets (longest first) with `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= MIN_LITERAL_SECRET_LENGTH) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** Both: URLs masked by shape, then any known secret masked wherever it still appears. */
export function redactAll(text: string, secrets: readonly string[] = []): string {
  return redactSecrets(redactText(text), secrets);
}

/**
 * Masks credentials in an error and its causes, in place: message, stack and string fields
 * (a URL parser's error keeps the URL in `input`). For errors of other libraries that Herald
 * wraps, so that printing the wrapper with its cause shows no password.
 */
export function redactError(error: unknown, secrets: readonly string[] = []): void {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const fields = current as unknown as Record<string, unknown>;
    for (const key of [...Object.keys(current), 'message', 'stack']) {
      const value = fields[key];
      if (typeof value !== 'string') continue;
      const clean = redactAll(value, secrets);
      if (clean !== value) {
        try {
          fields[key] = clean;
        } catch {
          /* a read-only field: nothing more can be done for it */
        }
      }
    }
    current = current.cause;
  }
}
