export interface MachineInfo {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGiB: number;
    readonly os: string;
    readonly node: string;
    readonly loadAverageAtStart: readonly number[];
}
export interface RedisInfo {
    /** The URL without its password. */
    readonly url: string;
    /** Started by the benchmark (a private redis-server) rather than given. */
    readonly embedded: boolean;
    readonly version: string;
    readonly aof: string;
    readonly appendfsync: string;
}
export declare function machineInfo(): MachineInfo;
export declare function redactUrl(url: string): string;
export declare function redisInfo(url: string, embedded: boolean): Promise<RedisInfo>;
