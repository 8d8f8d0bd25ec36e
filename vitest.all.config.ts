import { suite } from './vitest.config.ts'

// npm run test:all: every file, npm test's and the slow ones (SLOW_FILES in vitest.config.ts),
// in one run and one JSON report (.vitest-report.json), the one .ci/summary.mjs reads.
export default suite([], { isolate: true })
