/**
 * Stream positions formatted like Redis stream ids, `<ms>-<seq>`: the time the
 * entry was stored, and a sequence number for entries stored in the same millisecond.
 */

/** Hands out strictly increasing positions for one stream, even if the clock steps back. */
export class PositionClock {
  private ms = 0;
  private seq = 0;

  next(now: number = Date.now()): string {
    if (now > this.ms) {
      this.ms = now;
      this.seq = 0;
    } else {
      this.seq++;
    }
    return `${this.ms}-${this.seq}`;
  }
}

function parts(position: string): [number, number] {
  const dash = position.indexOf('-');
  if (dash < 0) return [Number(position), 0];
  return [Number(position.slice(0, dash)), Number(position.slice(dash + 1))];
}

/** Orders two positions like Redis does (numerically by ms, then seq). */
export function comparePositions(a: string, b: string): number {
  const [am, as] = parts(a);
  const [bm, bs] = parts(b);
  return am === bm ? as - bs : am - bm;
}
