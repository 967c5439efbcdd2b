/**
 * Pub/sub notification latency at a fixed offered rate: raw node-redis
 * PUBLISH/SUBSCRIBE (JSON payload, parsed by the listener) and Herald's
 * notifier (src/redis/notifications.ts) carrying the same payload.
 */
import { connectRedis } from "../../src/index.js";
import { RedisNotifier } from "../../src/redis/notifications.js";
import { latencyAt } from "../drive.js";
import { makePayload, SMALL } from "../payload.js";
import { client } from "./raw.js";
/** A Pipe over fire-and-forget messages: nothing to acknowledge, so always settled. */
class NotifyPipe {
    onDelivery;
    count = 0;
    received(data) {
        this.count++;
        this.onDelivery?.(data);
    }
    async publishBatch(from, n) {
        const all = [];
        for (let i = 0; i < n; i++)
            all.push(this.publishOne(from + i, 0));
        await Promise.all(all);
    }
    delivered() {
        return this.count;
    }
    settled() {
        return Promise.resolve(true);
    }
}
class RawPubSub extends NotifyPipe {
    pub;
    sub;
    channel;
    constructor(pub, sub, channel) {
        super();
        this.pub = pub;
        this.sub = sub;
        this.channel = channel;
    }
    static async open(url, channel) {
        const pub = await client(url);
        const sub = await client(url);
        const pipe = new RawPubSub(pub, sub, channel);
        await sub.subscribe(channel, (message) => pipe.received(JSON.parse(message)));
        return pipe;
    }
    publishOne(seq, t) {
        return this.pub.sendCommand([
            'PUBLISH',
            this.channel,
            JSON.stringify(makePayload(seq, SMALL, t)),
        ]);
    }
    async close() {
        await this.sub.close();
        await this.pub.close();
    }
}
class HeraldNotify extends NotifyPipe {
    notifier;
    close_;
    constructor(notifier, close_) {
        super();
        this.notifier = notifier;
        this.close_ = close_;
    }
    static async open(ctx) {
        const conn = await connectRedis({ url: ctx.url });
        const notifier = new RedisNotifier(conn, ctx.keyPrefix);
        const pipe = new HeraldNotify(notifier, async () => {
            await notifier.close();
            await conn.close();
        });
        await notifier.listen('orders', (n) => pipe.received(n.data));
        return pipe;
    }
    publishOne(seq, t) {
        return this.notifier.notify('orders', makePayload(seq, SMALL, t));
    }
    close() {
        return this.close_();
    }
}
async function withPipe(open, run) {
    const pipe = await open();
    try {
        return await run(pipe);
    }
    finally {
        await pipe.close();
    }
}
export const rawPubSubLatency = (rate) => (ctx) => withPipe(() => RawPubSub.open(ctx.url, `${ctx.keyPrefix}:orders`), (p) => latencyAt(ctx, p, rate));
export const heraldNotifyLatency = (rate) => (ctx) => withPipe(() => HeraldNotify.open(ctx), (p) => latencyAt(ctx, p, rate));
//# sourceMappingURL=pubsub.js.map