// Crash safety of SQLite (WAL): see test/crash.ts.
import { crashSuite } from './crash.js'

crashSuite('sqlite')
