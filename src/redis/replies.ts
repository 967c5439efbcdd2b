/**
 * Reply shapes. node-redis speaks RESP3, where map replies (HGETALL, XINFO,
 * XREADGROUP) arrive as objects; over RESP2 they are flat lists. These helpers
 * accept both.
 */

/** A map reply as a plain record, values as they came. */
export function toMap(row: unknown): Record<string, unknown> {
  if (Array.isArray(row)) {
    const out: Record<string, unknown> = {};
    for (let i = 0; i + 1 < row.length; i += 2) out[String(row[i])] = row[i + 1];
    return out;
  }
  return row !== null && typeof row === 'object' ? (row as Record<string, unknown>) : {};
}

/** A map reply as a record of strings. */
export function toRecord(row: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(toMap(row))) out[k] = String(v);
  return out;
}
