/**
 * Writes bench/report/http.{json,md,svg} from a run's results, computing the ratios, drifts and
 * targets from the samples. Run on its own (`tsx bench/http/write-report.ts`), it recomputes
 * them from the samples in bench/report/http.json: for a change to the report, no new run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { addRatios, chart, markdown, targets, type Cell, type Results } from './report.js'

const dir = new URL('../report/', import.meta.url)

/** Fills in the derived figures of `results` and writes the three files; returns the Markdown. */
export function writeReport(results: Results): string {
  for (const contender of results.contenders) {
    for (const cell of Object.values(contender.cells) as Cell[]) cell.ratios = {}
  }
  addRatios(results)
  results.targets = targets(results)
  const md = markdown(results)
  mkdirSync(dir, { recursive: true })
  writeFileSync(new URL('http.json', dir), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(new URL('http.md', dir), md)
  writeFileSync(new URL('http.svg', dir), chart(results))
  return md
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = JSON.parse(readFileSync(new URL('http.json', dir), 'utf8')) as Results
  console.log(writeReport(results))
  console.log('rewrote bench/report/http.{md,json,svg} from the samples in http.json')
}
