// Prints vitest's JSON reports as the closing line CI reads: "tests: N passed, M failed".
// Each argument is a report (npm test's, the topology legs', then one per Node line of
// scripts/node-lines.sh); a missing one is a failure. Each report's own counts come first.
import { readFileSync } from 'node:fs'

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['.vitest-report.json']
let passed = 0
let failed = 0
let skipped = 0
for (const file of files) {
  let report
  try {
    report = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    console.log(`no test report at ${file}: ${error.message}`)
    failed++
    continue
  }
  // A file that failed to load has no test results of its own: count it as one failure.
  const brokenFiles = (report.testResults ?? []).filter(
    (result) => result.status === 'failed' && (result.assertionResults ?? []).length === 0,
  ).length
  const counts = {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + brokenFiles,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  }
  if (files.length > 1)
    console.log(`${file}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`)
  // Name each failure here, at the end, where a reader of the log's tail looks first.
  for (const result of report.testResults ?? []) {
    const failures = (result.assertionResults ?? []).filter((test) => test.status === 'failed')
    if (result.status === 'failed' && failures.length === 0)
      console.log(`  failed to load: ${result.name}: ${firstLines(result.message)}`)
    for (const test of failures)
      console.log(`  failed: ${result.name} > ${test.fullName}: ${firstLines(test.failureMessages?.[0])}`)
  }
  passed += counts.passed
  failed += counts.failed
  skipped += counts.skipped
}
// The first three lines of a failure message, on one line.
function firstLines(text) {
  return String(text ?? '')
    .split('\n')
    .slice(0, 3)
    .join(' | ')
    .slice(0, 400)
}

console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
