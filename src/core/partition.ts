/**
 * Chooses the partition of an event: by its key, else by its id, else at random.
 * FNV-1a (32-bit): stable across processes and languages, cheap, well spread.
 */
export function partitionFor(
  partitions: number,
  key: string | undefined,
  id: string | undefined,
): number {
  if (partitions === 1) return 0;
  const basis = key ?? id;
  if (basis === undefined) return Math.floor(Math.random() * partitions);
  let h = 0x811c9dc5;
  for (let i = 0; i < basis.length; i++) {
    h ^= basis.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}
