/**
 * Counts what a delivery test lost, duplicated or invented (after Watermill's
 * tests): record every publish the backend acknowledged and every event a
 * handler finished, then compare.
 */
import assert from 'node:assert/strict';

/** The outcome of a delivery test. */
export interface DeliveryReport {
  /** Distinct ids whose publish the backend acknowledged. */
  readonly published: number;
  /** Handled deliveries in total (duplicates and unexpected ones included). */
  readonly delivered: number;
  /** Acknowledged publishes that were never delivered and handled. */
  readonly lost: number;
  /** Deliveries of ids that were never published. */
  readonly unexpected: number;
  /** Deliveries beyond the first of the same id. */
  readonly duplicates: number;
  /** The first 20 lost ids. */
  readonly lostIds: readonly string[];
  /** The first 20 distinct unexpected ids. */
  readonly unexpectedIds: readonly string[];
}

const SAMPLE = 20;

export class DeliveryChecker {
  private readonly publishedIds = new Set<string>();
  private readonly handledCounts = new Map<string, number>();
  private handledTotal = 0;

  /** Records an acknowledged publish: pass the receipt's id (or the receipt). */
  published(idOrReceipt: string | { readonly id: string }): void {
    this.publishedIds.add(typeof idOrReceipt === 'string' ? idOrReceipt : idOrReceipt.id);
  }

  /** Records a delivery whose handler finished: pass the event's id (or the event). */
  handled(idOrEvent: string | { readonly id: string }): void {
    const id = typeof idOrEvent === 'string' ? idOrEvent : idOrEvent.id;
    this.handledCounts.set(id, (this.handledCounts.get(id) ?? 0) + 1);
    this.handledTotal++;
  }

  /** True once every acknowledged publish was handled at least once (a condition for waitFor). */
  allDelivered(): boolean {
    for (const id of this.publishedIds) if (!this.handledCounts.has(id)) return false;
    return true;
  }

  report(): DeliveryReport {
    const lostIds: string[] = [];
    let lost = 0;
    for (const id of this.publishedIds) {
      if (this.handledCounts.has(id)) continue;
      lost++;
      if (lostIds.length < SAMPLE) lostIds.push(id);
    }
    const unexpectedIds: string[] = [];
    let unexpected = 0;
    let duplicates = 0;
    for (const [id, count] of this.handledCounts) {
      duplicates += count - 1;
      if (this.publishedIds.has(id)) continue;
      unexpected += count;
      if (unexpectedIds.length < SAMPLE) unexpectedIds.push(id);
    }
    return {
      published: this.publishedIds.size,
      delivered: this.handledTotal,
      lost,
      unexpected,
      duplicates,
      lostIds,
      unexpectedIds,
    };
  }
}

/** A one-line summary of a report, for assertion messages and logs. */
export function describeReport(r: DeliveryReport): string {
  const parts = [
    `published ${r.published}`,
    `delivered ${r.delivered}`,
    `lost ${r.lost}`,
    `unexpected ${r.unexpected}`,
    `duplicates ${r.duplicates}`,
  ];
  if (r.lostIds.length > 0) parts.push(`first lost ids: ${r.lostIds.join(', ')}`);
  if (r.unexpectedIds.length > 0) parts.push(`unexpected ids: ${r.unexpectedIds.join(', ')}`);
  return parts.join('; ');
}

export interface NoLossOptions {
  /** At-least-once delivery may redeliver; default true. Set false to demand exactly one delivery each. */
  readonly allowDuplicates?: boolean;
}

/** Fails with a readable message when events were lost or invented (or duplicated, when not allowed). */
export function assertNoLoss(report: DeliveryReport, options: NoLossOptions = {}): void {
  const allowDuplicates = options.allowDuplicates ?? true;
  const problems: string[] = [];
  if (report.lost > 0) problems.push(`${report.lost} lost`);
  if (report.unexpected > 0) problems.push(`${report.unexpected} unexpected`);
  if (!allowDuplicates && report.duplicates > 0) problems.push(`${report.duplicates} duplicated`);
  if (problems.length > 0) {
    assert.fail(`delivery check failed (${problems.join(', ')}): ${describeReport(report)}`);
  }
}
