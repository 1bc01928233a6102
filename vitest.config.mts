import { defineConfig } from 'vitest/config';

// The whole suite runs twice: in child processes (forks) and in worker threads (threads),
// because the addon must work in both.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'forks', pool: 'forks' } },
      { extends: true, test: { name: 'threads', pool: 'threads' } },
    ],
  },
});
