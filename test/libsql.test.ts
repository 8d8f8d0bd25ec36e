// libSQL on a file, both ways users reach it: @libsql/kysely-libsql (a file: URL), and the
// libsql package (better-sqlite3's API) through Kysely's SqliteDialect and through sqlite().
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Kysely, SqliteDialect } from 'kysely'
import type { Libsql } from '../legs/drivers/index.js'
import { sqlite } from '../dialects/sqlite.js'
import { conformance } from './conformance.js'
import { withLeg } from './leg-packages.js'
import { tempDir } from './legs.js'

await withLeg(
  'drivers',
  'the libSQL legs',
  () => import('../legs/drivers/index.js'),
  ({ LibsqlDialect, Libsql }) => {
    const dir = tempDir('kss-libsql-')

    conformance({
      name: 'libSQL file, @libsql/kysely-libsql',
      family: 'sqlite',
      open: () =>
        new Kysely<any>({ dialect: new LibsqlDialect({ url: pathToFileURL(join(dir, 'client.db')).href }) }),
      close: (db) => db.destroy(),
    })

    const handles: Libsql.Database[] = []
    function libsqlDatabase(name: string): Libsql.Database {
      const database = new Libsql(join(dir, name))
      database.exec('PRAGMA journal_mode = WAL')
      handles.push(database)
      return database
    }

    conformance({
      name: "libSQL file, the libsql package through Kysely's SqliteDialect",
      family: 'sqlite',
      open: () => new Kysely<any>({ dialect: new SqliteDialect({ database: libsqlDatabase('stock.db') }) }),
      close: (db) => db.destroy(),
    })

    conformance({
      name: 'libSQL file, the libsql package through sqlite(database)',
      family: 'sqlite',
      open: () => sqlite(libsqlDatabase('factory.db')),
      close: async (db) => {
        await db.destroy() // leaves the handle open: it is ours
        for (const database of handles.splice(0)) if (database.open) database.close()
      },
    })
  },
)
