/**
 * Output helpers shared by the CLI commands: aligned tables for people, JSON
 * for scripts, human units, and the parsers for option values. Errors are not
 * printed here: commands throw HeraldErrors and `runCli` prints one line.
 */
import { InvalidArgumentError } from 'commander';

// `herald … | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

/** One column of a table: which field to show and how to head it. */
export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => string | number | undefined;
  /** Numbers read best right-aligned. Default: 'left'. */
  readonly align?: 'left' | 'right';
}

/** Renders rows as an aligned plain-text table (two spaces between columns). */
export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((c) => cellText(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => {
        const w = widths[i] ?? 0;
        return columns[i]?.align === 'right' ? v.padStart(w) : v.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

function cellText(v: string | number | undefined): string {
  if (v === undefined) return '-';
  return typeof v === 'number' ? String(v) : safeText(v);
}

/**
 * Characters that can drive a terminal or reorder what it shows: C0 controls (ESC starts
 * escape sequences), DEL, C1 controls (U+009B is a one-character CSI) and the bidirectional
 * marks, overrides and isolates.
 */
function isTerminalControl(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/**
 * What JSON.stringify leaves unescaped of those (it escapes C0 controls), plus the line and
 * paragraph separators. They only occur inside JSON strings, where \uXXXX is the same value.
 */
function isUnescapedInJson(code: number): boolean {
  return code >= 0x20 && (isTerminalControl(code) || code === 0x2028 || code === 0x2029);
}

const NAMED_ESCAPES: Readonly<Record<number, string>> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

/** Replaces the characters `matches` picks with escapes; returns the text itself when none. */
function escapeWhere(text: string, matches: (code: number) => boolean): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!matches(code)) continue;
    out +=
      text.slice(copied, i) + (NAMED_ESCAPES[code] ?? `\\u${code.toString(16).padStart(4, '0')}`);
    copied = i + 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * Text taken from events or Redis (types, keys, group and consumer names, errors, payloads)
 * made safe to print for people: control characters are shown escaped (`\u001b`, `\n`),
 * so what a producer wrote cannot move the cursor, recolour, retitle or clear the terminal.
 */
export function safeText(text: string): string {
  return escapeWhere(text, isTerminalControl);
}

/** JSON for a terminal: the same value, with no character left that could drive it. */
function inertJson(json: string): string {
  return escapeWhere(json, isUnescapedInJson);
}

/** Prints a value as pretty JSON on stdout (one document). */
export function printJson(value: unknown): void {
  process.stdout.write(`${inertJson(JSON.stringify(value, null, 2))}\n`);
}

/** Prints a value as one JSON line (for streams of records: tail, publish). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${inertJson(JSON.stringify(value))}\n`);
}

/** Payloads this deep cannot be re-encoded (the encoder runs out of stack): callers fall back to the stored text. */
export function isTooDeep(e: unknown): boolean {
  return e instanceof RangeError;
}

/** Longest payload text `tail` prints on a line for people (`--json` prints all of it). */
export const MAX_PAYLOAD_DISPLAY_CHARS = 4096;

/** A payload's text for a line meant for people: escaped, and cut after `max` characters. */
export function payloadText(text: string, max = MAX_PAYLOAD_DISPLAY_CHARS): string {
  if (text.length <= max) return safeText(text);
  return `${safeText(text.slice(0, max))}… (${text.length - max} more characters; --json prints all)`;
}

/** Prints a line on stdout. */
export function println(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Prints a status line on stderr, so stdout stays clean for data. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** A size for people, with its unit: 512 -> "512 B", 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * A duration for people, always with its unit: 950 -> "950 ms", 1500 -> "1.5 s",
 * 250_000 -> "4m 10s", 3_600_000 -> "1h", 7 days -> "7d". `--json` output keeps raw numbers.
 */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number(s.toFixed(1))} s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string): string =>
    small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit} ${small}${smallUnit}`;
  const totalSeconds = Math.floor(s);
  const m = Math.floor(totalSeconds / 60);
  if (m < 60) return two(m, 'm', totalSeconds % 60, 's');
  const h = Math.floor(m / 60);
  if (h < 48) return two(h, 'h', m % 60, 'm');
  return two(Math.floor(h / 24), 'd', h % 24, 'h');
}

/** Shortens a text to `max` characters, with an ellipsis. */
export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const DURATION_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Commander parser for durations: "500ms", "30s", "15m", "2h", "7d" (a bare number is ms). */
export function parseDuration(value: string): number {
  const m = DURATION.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a duration such as 500ms, 30s, 15m, 2h or 7d.');
  return Math.round(Number(m[1]) * (DURATION_MS[m[2] ?? 'ms'] ?? 1));
}

/** Commander parser for integers >= 1. */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('expected a whole number of 1 or more.');
  }
  return n;
}

/** Commander parser for integers >= 0. */
export function parseNonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError('expected a whole number of 0 or more.');
  }
  return n;
}

/** Commander parser for a TCP port (0 = any free port). */
export function parsePort(value: string): number {
  const n = parseNonNegativeInt(value);
  if (n > 65535) throw new InvalidArgumentError('expected a port number 0-65535.');
  return n;
}
