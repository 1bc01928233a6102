import { defineConfig } from 'vitest/config';

// Two projects. 'forks' runs every file, each in a child process. 'threads' runs again, in worker
// threads, the suites whose subject is the package in a process (the addon, the close helpers,
// the relay, the HTTP integration, the scenario table), because the addon must work there too.
// Suites that drive other processes (the CLI, curl, nginx, bundlers, the install script, capture
// and network namespaces) or measure the whole process (leaks, descriptors across workers) are
// forks-only, so a skip in either project always means a platform or a missing tool.
const FORKS_ONLY = [
  'test/core/client-errors.test.ts',
  'test/core/error-types.test.ts',
  'test/core/leaks.test.ts',
  'test/core/percall.test.ts',
  'test/http/http-frameworks.test.ts',
  'test/http/http2.test.ts',
  'test/http/http-shutdown-libs.test.ts',
  'test/relay/proxy.test.ts',
  'test/relay/proxy-event-types.test.ts',
  'test/relay/relay-scenarios.test.ts',
  'test/lab/capture.test.ts',
  'test/lab/conditions.test.ts',
];

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    globalSetup: ['./test/support/temp-root.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      // (Each project names its own files: arrays from the root config would be concatenated.)
      { extends: true, test: { name: 'forks', pool: 'forks', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'threads',
          pool: 'threads',
          include: ['test/{core,close,relay,http,lab}/**/*.test.ts'],
          exclude: FORKS_ONLY,
        },
      },
    ],
  },
});
