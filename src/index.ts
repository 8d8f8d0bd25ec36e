export {
  KyselyStore,
  type CommitOptions,
  type ListBySubjectOptions,
  type StoredSession,
  type SubjectSession,
} from './store/store.js'
export { migrate, DEFAULT_MIGRATE_TIMEOUT, type MigrateOptions } from './store/migrate.js'
export { sessionTable, type SessionTableMigration } from './store/migrations.js'
export { SessionStoreError, type SessionStoreErrorCode } from './errors.js'
export {
  DEFAULT_CLEANUP_BATCH_SIZE,
  DEFAULT_CLEANUP_INTERVAL,
  DEFAULT_MAX_DATA_SIZE,
  DEFAULT_RETRY_BUDGET,
  DEFAULT_TABLE_NAME,
  DEFAULT_TIMEOUT,
  type KyselyStoreOptions,
} from './store/options.js'
export type { FamilyName } from './families/index.js'
export type { CleanupRun, StoreCall, StoreRetry } from './store/diagnostics.js'
export {
  DEFAULT_MAX_SESSION_SIZE,
  SessionManager,
  type SessionManagerOptions,
  type SessionStore,
  type SessionSummary,
  type SessionList,
  type DeviceInfoOptions,
} from './session/manager.js'
export type { HeaderList, LoadOptions } from './session/hold.js'
export { parseUserAgent, type DeviceName } from './session/user-agent.js'
export { Session, type SessionStatus } from './session/session.js'
export { JSON_CODEC_MAX_DEPTH, jsonCodec, type Codec } from './session/codec.js'
export type { CookieOptions } from './session/cookie.js'
