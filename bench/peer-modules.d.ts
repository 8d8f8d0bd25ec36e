// The two peers ship no types; the benchmark uses them through CallbackStore only.
declare module 'connect-pg-simple' {
  const connectPgSimple: (session: unknown) => new (options: Record<string, unknown>) => unknown
  export default connectPgSimple
}

declare module 'better-sqlite3-session-store' {
  const betterSqlite3SessionStore: (session: unknown) => new (options: Record<string, unknown>) => unknown
  export default betterSqlite3SessionStore
}
