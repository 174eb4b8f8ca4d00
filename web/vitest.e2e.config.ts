import { defineConfig } from 'vitest/config';

// End-to-end tests: real Chromium against a real `containerops server` on Podman (see e2e/).
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    environment: 'node',
    testTimeout: 240_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
