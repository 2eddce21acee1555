import { defineConfig } from 'vitest/config';

// The end-to-end suite: a real Chromium and a real Secret Service (scripts/setup-e2e.sh installs
// them; `npm run test:e2e` runs it under scripts/with-secret-service.sh). One file at a time:
// the tests share one keyring and the last one stops its daemon.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
