/**
 * What the saga's services say to each other: one topic per service (each
 * service publishes only to its own), the event types on each, and the order
 * states. This file is the whole contract between the services; none of them
 * reads another's keys.
 *
 *   orders       (Order)        AWAITING_PAYMENT, AWAITING_SHIPMENT, AWAITING_REFUND,
 *                               COMPLETED_SUCCESSFULLY, BLOCKED_NO_FUNDS, COMPLETED_WITH_FAILURE
 *   payments     (Payment)      PAID, FAILED_PAYMENT_NO_FUNDS, REFUNDED, PAYMENT_CAPTURED
 *   fulfillment  (Fulfillment)  SHIPPED, SHIPMENT_FAILED_BANNED_PRODUCT, SHIPMENT_FAILED_OUT_OF_STOCK
 */
import { z } from 'zod';
import { defineTopic } from '../../src/index.ts';

/** Every event carries the whole order, so no service needs another's data. */
export const orderSchema = z.object({
  orderId: z.string().min(1),
  user: z.string().min(1),
  product: z.string().min(1),
  /** Whole currency units. */
  amount: z.number().int().positive(),
  /** ISO 3166 alpha-2, e.g. 'US'. */
  country: z.string().length(2),
});
export type Order = z.infer<typeof orderSchema>;

/** Redelivered announcements are absorbed by the consumers; the window only saves work. */
const dedupeWindowMs = 60 * 60_000;

export const ordersTopic = defineTopic({ name: 'orders', schema: orderSchema, dedupeWindowMs });
export const paymentsTopic = defineTopic({ name: 'payments', schema: orderSchema, dedupeWindowMs });
export const fulfillmentTopic = defineTopic({
  name: 'fulfillment',
  schema: orderSchema,
  dedupeWindowMs,
});

/** The states of an order, in the Order service's timeline. */
export const OrderState = {
  AWAITING_PAYMENT: 'AWAITING_PAYMENT',
  PAID: 'PAID',
  FAILED_PAYMENT_NO_FUNDS: 'FAILED_PAYMENT_NO_FUNDS',
  BLOCKED_NO_FUNDS: 'BLOCKED_NO_FUNDS',
  AWAITING_SHIPMENT: 'AWAITING_SHIPMENT',
  SHIPPED: 'SHIPPED',
  SHIPMENT_FAILED_BANNED_PRODUCT: 'SHIPMENT_FAILED_BANNED_PRODUCT',
  SHIPMENT_FAILED_OUT_OF_STOCK: 'SHIPMENT_FAILED_OUT_OF_STOCK',
  AWAITING_REFUND: 'AWAITING_REFUND',
  REFUNDED: 'REFUNDED',
  COMPLETED_SUCCESSFULLY: 'COMPLETED_SUCCESSFULLY',
  COMPLETED_WITH_FAILURE: 'COMPLETED_WITH_FAILURE',
} as const;
export type OrderState = (typeof OrderState)[keyof typeof OrderState];

/** States after which nothing more happens to an order. */
export const TERMINAL_STATES: readonly OrderState[] = [
  OrderState.COMPLETED_SUCCESSFULLY,
  OrderState.BLOCKED_NO_FUNDS,
  OrderState.COMPLETED_WITH_FAILURE,
];

/** Payment's own event for turning a reservation into a deduction (nobody has to react to it). */
export const PAYMENT_CAPTURED = 'PAYMENT_CAPTURED';

/** One id per order and announcement: publishing it again is deduplicated, handling it again is skipped. */
export function eventId(orderId: string, type: string): string {
  return `${orderId}:${type}`;
}
