/** The line-up of the end-to-end benchmark: one Express 5 app per contender, in bench/http/apps. */

/** What a contender's app needs provisioned before it starts. */
export type Backend = 'redis' | 'sqlite' | 'postgres' | 'none'

export interface Contender {
  /** Short, stable id: used in the JSON, the report and `--only`. */
  readonly id: string
  /** How the report names it. */
  readonly label: string
  /** The app's file in bench/http/apps. */
  readonly app: string
  readonly backend: Backend
  /** Ours (drawn dark in the chart) or somebody else's. */
  readonly ours: boolean
}

export const contenders: readonly Contender[] = [
  {
    id: 'connect-redis',
    label: 'express-session + connect-redis',
    app: 'connect-redis.js',
    backend: 'redis',
    ours: false,
  },
  {
    id: 'better-sqlite3-session-store',
    label: 'express-session + better-sqlite3-session-store (its defaults)',
    app: 'better-sqlite3-session-store.js',
    backend: 'sqlite',
    ours: false,
  },
  {
    id: 'better-sqlite3-session-store-wal',
    label: 'express-session + better-sqlite3-session-store, WAL + synchronous=NORMAL',
    app: 'better-sqlite3-session-store-wal.js',
    backend: 'sqlite',
    ours: false,
  },
  {
    id: 'connect-pg-simple',
    label: 'express-session + connect-pg-simple',
    app: 'connect-pg-simple.js',
    backend: 'postgres',
    ours: false,
  },
  {
    id: 'adapter-sqlite',
    label: 'express-session + our ExpressSessionStore, SQLite',
    app: 'express-session-sqlite.js',
    backend: 'sqlite',
    ours: true,
  },
  {
    id: 'adapter-postgres',
    label: 'express-session + our ExpressSessionStore, Postgres',
    app: 'express-session-postgres.js',
    backend: 'postgres',
    ours: true,
  },
  {
    id: 'manager-sqlite',
    label: 'our SessionManager, SQLite',
    app: 'manager-sqlite.js',
    backend: 'sqlite',
    ours: true,
  },
  {
    id: 'manager-postgres',
    label: 'our SessionManager, Postgres',
    app: 'manager-postgres.js',
    backend: 'postgres',
    ours: true,
  },
  {
    id: 'manager-idle-sqlite',
    label: 'our SessionManager with idleTimeout, SQLite',
    app: 'manager-idle-sqlite.js',
    backend: 'sqlite',
    ours: true,
  },
  {
    id: 'manager-idle-postgres',
    label: 'our SessionManager with idleTimeout, Postgres',
    app: 'manager-idle-postgres.js',
    backend: 'postgres',
    ours: true,
  },
  {
    id: 'no-sessions',
    label: 'no sessions at all (the ceiling)',
    app: 'no-sessions.js',
    backend: 'none',
    ours: false,
  },
]

/** The two measured routes. */
export const routes = ['/read', '/write'] as const
export type Route = (typeof routes)[number]
