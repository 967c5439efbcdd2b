/**
 * Reply shapes. node-redis speaks RESP3, where map replies (HGETALL, XINFO,
 * XREADGROUP) arrive as objects; over RESP2 they are flat lists. These helpers
 * accept both.
 */

/** A map reply as a record of strings. */
export function toRecord(row: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(row)) {
    for (let i = 0; i + 1 < row.length; i += 2) out[String(row[i])] = String(row[i + 1]);
    return out;
  }
  if (row === null || typeof row !== 'object') return out;
  for (const [k, v] of Object.entries(row as Record<string, unknown>)) out[k] = String(v);
  return out;
}
