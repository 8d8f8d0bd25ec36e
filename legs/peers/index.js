// What the tests and benchmarks use from this leg; the imports resolve from this folder.
export { default as betterSqlite3SessionStore } from 'better-sqlite3-session-store'
export { default as connectPgSimple } from 'connect-pg-simple'
export { RedisStore } from 'connect-redis'
export { ConnectSessionKnexStore } from 'connect-session-knex'
export { default as knex } from 'knex'
export { createClient } from 'redis'
