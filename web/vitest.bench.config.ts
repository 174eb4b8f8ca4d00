import { defineConfig } from 'vitest/config';

// `npm run bench`: the browser benchmark (not a test; figures into ../docs/benchmarks.md).
export default defineConfig({
  test: { include: ['bench/**/*.bench-run.ts'], environment: 'node', testTimeout: 300_000, hookTimeout: 120_000 },
});
