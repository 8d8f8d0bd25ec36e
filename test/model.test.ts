import { join } from 'node:path'
import { modelSuite } from './model.js'
import { legs, named, tempDir } from './legs.js'
import { withServer } from './servers.js'

// The quick run: 25 random sequences of up to 30 commands per engine, each on a fresh table.
// scripts/model-run.ts is the long run.
const RUNS = 25

modelSuite(legs.sqliteMemory(), RUNS)
modelSuite(legs.sqliteFile(join(tempDir('kss-model-'), 'model.db')), RUNS)
modelSuite(legs.pglite(), RUNS)
await withServer('Postgres', () => modelSuite(legs.postgres(), RUNS))
await withServer('MySQL', () => modelSuite(legs.mysql(), RUNS))
