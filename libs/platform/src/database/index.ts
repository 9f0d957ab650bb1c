export { isConnectionError } from './connection-errors';
export { startEmbeddedPostgres } from './embedded-postgres';
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from './embedded-postgres';
export {
  InvalidMigrationsError,
  MigrationChecksumMismatchError,
  MigrationError,
  migrationChecksum,
  runMigrations,
} from './migrations';
export type { Migration, MigrationErrorCode, MigrationReport, MigrationSet } from './migrations';
export { createPool, guardCheckedOutClients } from './pool';
export type { CreatePoolOptions } from './pool';
