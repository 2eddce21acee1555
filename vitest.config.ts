import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/security/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Most tests run the CLI in process; the rest spawn it, and many wait on servers and timeouts
    // rather than on the CPU: three workers keep this project's 2-core machines busy.
    maxWorkers: 3,
  },
});
