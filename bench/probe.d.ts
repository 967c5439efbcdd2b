export interface RedisSample {
    /** used_cpu_user + used_cpu_sys, in microseconds. */
    readonly cpuUs: number;
    /** Calls per command, e.g. { xadd: 1200, xreadgroup: 3 }. */
    readonly calls: Readonly<Record<string, number>>;
}
export interface SectionCost {
    readonly seconds: number;
    readonly nodeCpuUs: number;
    readonly redisCpuUs: number;
    /** Commands run by Redis during the section, by name (lower case), without the probe's own INFO calls. */
    readonly commands: Readonly<Record<string, number>>;
}
/** Parses the text of `INFO cpu commandstats`. */
export declare function parseInfo(text: string): RedisSample;
export declare class RedisProbe {
    private readonly client;
    private constructor();
    static connect(url: string): Promise<RedisProbe>;
    sample(): Promise<RedisSample>;
    /** Runs `section` and reports what it cost. */
    measure<T>(section: () => Promise<T>): Promise<{
        value: T;
        cost: SectionCost;
    }>;
    /**
     * Starts a section now, synchronously (for a section that begins inside a
     * callback, e.g. at the first message handled); Redis is sampled as soon as possible.
     */
    begin(): {
        end(): Promise<SectionCost>;
    };
    private open;
    close(): Promise<void>;
}
