/**
 * The event model: a CloudEvents 1.0 envelope around the payload.
 * Transport-agnostic: nothing here knows about Redis.
 */

/** What a producer hands to `publish`. Only `data` is required. */
export interface OutgoingEvent<T = unknown> {
  /** The payload. Validated against the topic's schema, if it has one. */
  readonly data: T;
  /** CloudEvents `type`, e.g. `order.created`. Defaults to the topic's `defaultType`. */
  readonly type?: string;
  /**
   * CloudEvents `id`. Give one to make the publish idempotent: publishing the
   * same id again within the topic's dedupe window stores the event once.
   * Without it Herald derives a unique id from where the event is stored.
   */
  readonly id?: string;
  /** Partition key: events with the same key keep their order on one partition. */
  readonly key?: string;
  /** CloudEvents `source`. Defaults to the client's `source`. */
  readonly source?: string;
  /** CloudEvents `subject`. */
  readonly subject?: string;
  /** CloudEvents `time` (RFC 3339). Defaults to the time Redis stored the event. */
  readonly time?: string;
  /** Free-form string headers carried with the event. */
  readonly headers?: Readonly<Record<string, string>>;
  /** W3C trace context, carried as the CloudEvents distributed-tracing extension. */
  readonly traceparent?: string;
}

/** A decoded event as a consumer sees it: every CloudEvents attribute is filled in. */
export interface HeraldEvent<T = unknown> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly datacontenttype: string;
  readonly subject: string | undefined;
  readonly key: string | undefined;
  readonly data: T;
  readonly headers: Readonly<Record<string, string>>;
  readonly traceparent: string | undefined;
}

/** Where and how often an event was delivered. */
export interface DeliveryInfo {
  readonly topic: string;
  readonly partition: number;
  readonly group: string;
  readonly consumer: string;
  /** The position of the event in its partition (a Redis stream entry id). */
  readonly position: string;
  /** 1 on the first delivery, 2 on the first retry, … */
  readonly attempt: number;
}

/** What a handler receives. */
export interface Delivery<T = unknown> extends HeraldEvent<T> {
  readonly delivery: DeliveryInfo;
}

/** What `publish` returns once the backend has stored the event. */
export interface PublishReceipt {
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  readonly position: string;
  /** True when an event with this id was already stored within the dedupe window; nothing new was written. */
  readonly duplicate: boolean;
}
