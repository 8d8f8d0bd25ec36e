// The types of index.js, resolved from this folder as its imports are (connect-pg-simple and
// better-sqlite3-session-store ship none: bench/peer-modules.d.ts declares them).
export { default as betterSqlite3SessionStore } from 'better-sqlite3-session-store'
export { default as connectPgSimple } from 'connect-pg-simple'
export { RedisStore } from 'connect-redis'
export { ConnectSessionKnexStore } from 'connect-session-knex'
export { default as knex, type Knex } from 'knex'
export { createClient } from 'redis'
