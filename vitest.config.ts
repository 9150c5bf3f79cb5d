import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./vitest.global-setup.ts'],
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'deploy/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests start real processes; two cores, so keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
    // The admin UI's stylesheet is read as text (?raw): without this, Vitest hands every .css import back empty.
    css: true,
  },
});
