/** `herald/memory`: the in-memory backend for unit tests. */
export { MemoryBackend } from './backend.ts';
export type { MemoryBackendOptions } from './backend.ts';
