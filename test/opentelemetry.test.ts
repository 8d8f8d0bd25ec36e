// The OpenTelemetry example of the site's Diagnostics page (examples/opentelemetry.ts), run
// against the real OpenTelemetry SDK with in-memory exporters, on SQLite in memory.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { metrics, SpanStatusCode, trace } from '@opentelemetry/api'
import { afterAll, expect, test } from 'vitest'
import { instrumentSessionStore } from '../examples/opentelemetry.js'
import { sqlite } from '../dialects/sqlite.js'
import { KyselyStore, migrate } from '../src/index.js'
import { bytes, randomTable, randomToken } from './helpers.js'
import { withLeg } from './leg-packages.js'

await withLeg(
  'opentelemetry',
  'the OpenTelemetry example',
  () => import('../legs/opentelemetry/index.js'),
  ({
    AggregationTemporality,
    BasicTracerProvider,
    InMemoryMetricExporter,
    InMemorySpanExporter,
    MeterProvider,
    PeriodicExportingMetricReader,
    SimpleSpanProcessor,
  }) => {
    const spans = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
    const points = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter: points, exportIntervalMillis: 3_600_000 })
    const meterProvider = new MeterProvider({ readers: [reader] })
    trace.setGlobalTracerProvider(tracerProvider)
    metrics.setGlobalMeterProvider(meterProvider)
    afterAll(async () => {
      await meterProvider.shutdown()
      await tracerProvider.shutdown()
      trace.disable()
      metrics.disable()
    })

    test('store calls become spans with family, table, rows and status, and a duration histogram by operation', async () => {
      const db = sqlite(':memory:')
      const table = randomTable('otel')
      await migrate(db, { tableName: table })
      const store = new KyselyStore(db, 0, { tableName: table })
      const slow: string[] = []
      const warn = console.warn
      console.warn = (line: string) => slow.push(line)
      const stop = instrumentSessionStore({ slowMs: -1 }) // every call is "slow": the log line is exercised
      const token = randomToken('secret')
      try {
        await store.commit(token, bytes('secret data'), new Date(Date.now() + 60_000))
        await store.find(token)
        await new KyselyStore(db, 0, { tableName: randomTable('missing') }).find(token).catch(() => undefined)
      } finally {
        stop()
        console.warn = warn
        await db.destroy()
      }
      await store.find(token).catch(() => undefined) // after stop(): no span
      const finished = spans.getFinishedSpans()
      expect(finished.map((span) => span.name)).toEqual([
        'session_store.commit',
        'session_store.find',
        'session_store.find',
      ])
      expect(finished[0]!.attributes).toEqual({
        'db.system.name': 'sqlite',
        'db.collection.name': table,
        'session_store.rows': 1,
        'session_store.attempts': 1,
      })
      expect(finished[1]!.status.code).toBe(SpanStatusCode.UNSET)
      expect(finished[2]!.status).toMatchObject({ code: SpanStatusCode.ERROR })
      expect(finished[2]!.status.message).toMatch(/^find failed: table "missing_\w+" does not exist/)
      await reader.forceFlush()
      const metric = points.getMetrics().at(-1)!.scopeMetrics[0]!.metrics[0]!
      expect(metric.descriptor.name).toBe('session_store.call.duration')
      const series = metric.dataPoints.map((point) => [point.attributes.operation, point.attributes.outcome])
      expect(series).toEqual(
        expect.arrayContaining([
          ['commit', 'ok'],
          ['find', 'ok'],
          ['find', 'error'],
        ]),
      )
      expect(slow).toHaveLength(3)
      expect(slow[0]).toMatch(/^slow session store call: commit on otel_\w+ took \d+ ms$/)
      const everything = JSON.stringify([
        finished.map((s) => [s.name, s.attributes, s.status]),
        points.getMetrics(),
        slow,
      ])
      expect(everything).not.toContain(token)
      expect(everything).not.toContain('secret data')
    })

    test('the Diagnostics page of the site shows examples/opentelemetry.ts as it is', () => {
      const page = readFileSync(
        join(import.meta.dirname, '..', 'docs', 'operations', 'diagnostics.md'),
        'utf8',
      )
      const example = readFileSync(join(import.meta.dirname, '..', 'examples', 'opentelemetry.ts'), 'utf8')
      const code = example.slice(example.indexOf('import '))
      expect(page).toContain(code.trim())
    })
  },
)
