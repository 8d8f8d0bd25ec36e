// Runs one topology scenario by hand and prints its figures: the same code the tests under
// test/topologies/ use, without assertions, so that a scenario can be measured on any tree
// (`before` figures were taken by running this file in a checkout of the older code).
//
//   npx tsx scripts/topologies/run.ts pgbouncer [--seconds 10] [--mode transaction|session]
//   npx tsx scripts/topologies/run.ts failover  [--seconds 8] [--detect-ms 2000]
//   npx tsx scripts/topologies/run.ts silent
//   npx tsx scripts/topologies/run.ts frozen
//   npx tsx scripts/topologies/run.ts galera    [--seconds 10]
import { parseArgs } from 'node:util'
import { scenarios, type ScenarioName } from './scenarios.js'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'transaction' },
    'detect-ms': { type: 'string', default: '0' },
  },
})
const name = positionals[0] as ScenarioName
if (!(name in scenarios)) {
  console.error(`usage: run.ts ${Object.keys(scenarios).join('|')} [--seconds N]`)
  process.exit(2)
}
const result = await scenarios[name]({
  seconds: Number(values.seconds),
  mode: values.mode as never,
  detectionMs: Number(values['detect-ms']),
})
console.log(JSON.stringify(result, null, 2))
process.exit(0)
