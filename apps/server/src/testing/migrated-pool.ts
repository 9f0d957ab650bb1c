import { eventStoreMigrationSet } from '@touchline/event-store-postgres';
import { createPool, type MigrationSet, runMigrations } from '@touchline/platform';
import type { TestDatabase } from '@touchline/platform/testing';
import type { Pool } from 'pg';
import { serverMigrationSet } from '../migrations/server.migrations';
import { profilesMigrationSet } from '../profiles/profiles.migrations';

/**
 * A pool on `database` with the tables most of the server's integration specs start from: the
 * event store's, the server's and the profile projection's, then `more` in the order given (as
 * the runtime runs them). Test code only: not part of the built server.
 */
export async function migratedPool(
  database: TestDatabase,
  more: readonly MigrationSet[] = [],
): Promise<Pool> {
  const pool = createPool(database.url);
  try {
    for (const set of [eventStoreMigrationSet, serverMigrationSet, profilesMigrationSet, ...more])
      await runMigrations(pool, set);
    return pool;
  } catch (error) {
    await pool.end();
    throw error;
  }
}
