export { KyselyStore } from './store.js'
export { migrate, type MigrateOptions } from './migrate.js'
export { SessionStoreError, type SessionStoreErrorCode } from './errors.js'
export {
  DEFAULT_CLEANUP_BATCH_SIZE,
  DEFAULT_CLEANUP_INTERVAL,
  DEFAULT_TABLE_NAME,
  type KyselyStoreOptions,
} from './options.js'
export type { FamilyName } from './family.js'
