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
  return typeof v === 'number' ? String(v) : v;
}

/** Prints a value as pretty JSON on stdout (one document). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints a value as one JSON line (for streams of records: tail, publish). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Prints a line on stdout. */
export function println(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Prints a status line on stderr, so stdout stays clean for data. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** 1536 -> "1.5 KiB". */
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

/** 950 -> "950ms", 1500 -> "1.5s", 61_000 -> "1m1s", 3_600_000 -> "1h", 7d -> "7d". */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number(s.toFixed(1))}s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string): string =>
    small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit}${small}${smallUnit}`;
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
