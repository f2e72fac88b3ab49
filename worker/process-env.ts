/**
 * What the worker's process needs in its environment from whatever starts it (npm start, the bench, docker-compose):
 * glibc reads MALLOC_ARENA_MAX once, when the process starts, so neither .env nor the worker itself can set it. Its
 * default, 8 arenas per core, let the Temporal SDK's native threads keep 100-140 MiB more after a burst of sends
 * (docs/benchmarks.md, issue 15).
 */
export const workerProcessEnv = { MALLOC_ARENA_MAX: '2' } as const;
