// The types of index.js, resolved from this folder as its imports are.
export { PGLiteSocketServer } from '@electric-sql/pglite-socket'
export { LibsqlDialect, libsql } from '@libsql/kysely-libsql'
export { PostgresJSDialect } from 'kysely-postgres-js'
export { default as Libsql } from 'libsql'
export { default as postgresJs } from 'postgres'
