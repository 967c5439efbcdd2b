/**
 * What a measured section cost: wall time, this process's CPU
 * (process.cpuUsage), redis-server's CPU (INFO cpu: used_cpu_user + sys, which
 * works for a remote Redis too) and the commands Redis executed (INFO
 * commandstats). On a shared Redis the Redis-side figures include other clients.
 */
import { client } from "./scenarios/raw.js";
/** Parses the text of `INFO cpu commandstats`. */
export function parseInfo(text) {
    let user = 0;
    let sys = 0;
    const calls = {};
    for (const line of text.split('\r\n')) {
        if (line.startsWith('used_cpu_user:'))
            user = Number(line.slice('used_cpu_user:'.length));
        else if (line.startsWith('used_cpu_sys:'))
            sys = Number(line.slice('used_cpu_sys:'.length));
        else if (line.startsWith('cmdstat_')) {
            const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
            if (m)
                calls[m[1]] = Number(m[2]);
        }
    }
    return { cpuUs: Math.round((user + sys) * 1e6), calls };
}
export class RedisProbe {
    client;
    constructor(client) {
        this.client = client;
    }
    static async connect(url) {
        return new RedisProbe(await client(url));
    }
    async sample() {
        return parseInfo(await this.client.sendCommand(['INFO', 'cpu', 'commandstats']));
    }
    /** Runs `section` and reports what it cost. */
    async measure(section) {
        const before = await this.sample();
        const open = this.open(Promise.resolve(before));
        const value = await section();
        return { value, cost: await open.end() };
    }
    /**
     * Starts a section now, synchronously (for a section that begins inside a
     * callback, e.g. at the first message handled); Redis is sampled as soon as possible.
     */
    begin() {
        return this.open(this.sample());
    }
    open(before) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        before.catch(() => { });
        return {
            end: async () => {
                const seconds = (performance.now() - t0) / 1000;
                const cpu = process.cpuUsage(cpu0);
                const [b, after] = [await before, await this.sample()];
                const commands = {};
                for (const [name, n] of Object.entries(after.calls)) {
                    // One INFO is counted between the two samples (the second one's own call).
                    const delta = n - (b.calls[name] ?? 0) - (name === 'info' ? 1 : 0);
                    if (delta > 0)
                        commands[name] = delta;
                }
                return {
                    seconds,
                    nodeCpuUs: cpu.user + cpu.system,
                    redisCpuUs: Math.max(0, after.cpuUs - b.cpuUs),
                    commands,
                };
            },
        };
    }
    async close() {
        await this.client.close().catch(() => this.client.destroy());
    }
}
//# sourceMappingURL=probe.js.map