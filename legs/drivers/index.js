// What the tests and benchmarks use from this leg; the imports resolve from this folder.
export { PGLiteSocketServer } from '@electric-sql/pglite-socket'
export { LibsqlDialect, libsql } from '@libsql/kysely-libsql'
export { PostgresJSDialect } from 'kysely-postgres-js'
export { default as Libsql } from 'libsql'
export { default as postgresJs } from 'postgres'
