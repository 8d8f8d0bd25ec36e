// Crash safety of a PGlite data directory: see test/crash.ts.
import { crashSuite } from './crash.js'

crashSuite('pglite')
