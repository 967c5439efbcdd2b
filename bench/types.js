/** A run's figures derived from its cost: per-event CPU and Redis load. */
export function costFigures(r) {
    const commands = Object.values(r.commands).reduce((a, b) => a + b, 0);
    return {
        nodeCpuUsPerEvent: r.events > 0 ? r.nodeCpuUs / r.events : NaN,
        redisCpuPct: r.seconds > 0 ? (100 * r.redisCpuUs) / (r.seconds * 1e6) : NaN,
        commandsPerEvent: r.events > 0 ? commands / r.events : NaN,
    };
}
//# sourceMappingURL=types.js.map