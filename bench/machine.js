/** What the benchmark ran on: enough to judge whether two result files are comparable. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createClient } from 'redis';
function cpuModel() {
    try {
        const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
        if (m?.[1])
            return m[1].trim();
    }
    catch {
        /* not Linux */
    }
    return os.cpus()[0]?.model ?? 'unknown';
}
export function machineInfo() {
    return {
        cpus: os.availableParallelism(),
        cpuModel: cpuModel(),
        memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        os: `${os.type()} ${os.release()} ${os.arch()}`,
        node: process.version,
        loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    };
}
export function redactUrl(url) {
    try {
        const u = new URL(url);
        if (u.password)
            u.password = '***';
        return u.toString();
    }
    catch {
        return url;
    }
}
export async function redisInfo(url, embedded) {
    const c = createClient({ url });
    c.on('error', () => { });
    await c.connect();
    try {
        const text = await c.sendCommand(['INFO', 'server', 'persistence']);
        const field = (name) => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? 'unknown';
        let appendfsync = 'unknown';
        try {
            const reply = await c.sendCommand([
                'CONFIG',
                'GET',
                'appendfsync',
            ]);
            appendfsync = (Array.isArray(reply) ? reply[1] : reply.appendfsync) ?? 'unknown';
        }
        catch {
            /* CONFIG may be disabled on a managed Redis */
        }
        return {
            url: redactUrl(url),
            embedded,
            version: field('redis_version'),
            aof: field('aof_enabled') === '1' ? 'on' : 'off',
            appendfsync,
        };
    }
    finally {
        await c.close();
    }
}
//# sourceMappingURL=machine.js.map