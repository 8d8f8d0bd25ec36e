// The pieces of the end-to-end benchmark (bench/http, `npm run bench:http`) that could break
// without anyone noticing, since a benchmark asserts nothing: every contender's app answers
// /read and /write correctly over real HTTP with a logged-in session's cookie, the harness stops
// every process it starts and removes every table, Redis key and file it made, and the report's
// ratios and verdicts are computed as documented. No wrk here, and nothing timed.
// The apps import the built package: run `npm run build` first (`npm test` does). The suite
// (bench-http-suite.ts) is loaded only when legs/peers, the contenders' stores, is installed.
import { fromLeg } from './leg-packages.js'

await fromLeg('peers', "the HTTP benchmark's contenders", () => import('./bench-http-suite.js'))
