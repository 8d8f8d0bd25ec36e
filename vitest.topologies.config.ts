import { defineConfig } from 'vitest/config'

// The topology legs (npm run test:topologies): PgBouncer, a failover behind HAProxy, a silent
// socket, a Galera cluster. Each file starts servers of its own, so files run one at a time,
// apart from the quick `npm test`.
export default defineConfig({
  test: {
    include: ['test/topologies/**/*.spec.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-topologies-report.json' },
  },
})
