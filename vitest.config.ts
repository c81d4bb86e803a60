import { defineConfig } from 'vitest/config';

// One vitest run covers every tier; each tier is a folder under test/.
// Tiers that need the outside world (sshd, libvirt daemons, QEMU, tmux) check for it and fail loudly
// with the reason when it is missing: CI installs and starts everything, so nothing is silently skipped.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
