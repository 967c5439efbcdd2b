import type { RunResult } from './types.ts';
export interface ChildRequest {
    readonly url: string;
    /** Run one after another, each with fresh keys. */
    readonly scenarios: readonly string[];
    readonly events: number;
    readonly quick: boolean;
}
export type ChildMessage = {
    readonly type: 'start';
    readonly id: string;
} | {
    readonly type: 'progress';
    readonly id: string;
    readonly message: string;
} | {
    readonly type: 'result';
    readonly id: string;
    readonly result: RunResult;
} | {
    readonly type: 'error';
    readonly id: string;
    readonly message: string;
};
