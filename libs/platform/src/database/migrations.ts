import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

/** One forward-only schema change. Never edit an applied one: add the next version instead. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface MigrationSet {
  /** Component that owns the migrations, e.g. 'event_store' or a read model's name. */
  readonly name: string;
  readonly migrations: readonly Migration[];
}

export interface MigrationReport {
  readonly component: string;
  /** Migrations applied by this call, in order. */
  readonly applied: readonly { readonly version: number; readonly name: string }[];
}

export type MigrationErrorCode = 'MIGRATION_CHECKSUM_MISMATCH' | 'INVALID_MIGRATIONS';

export abstract class MigrationError extends Error {
  abstract readonly code: MigrationErrorCode;
}

/** An applied migration's SQL differs from the code's: the schema may not be what the code expects. */
export class MigrationChecksumMismatchError extends MigrationError {
  readonly code = 'MIGRATION_CHECKSUM_MISMATCH';
  constructor(
    readonly component: string,
    readonly version: number,
    readonly migrationName: string,
  ) {
    super(
      `Migration ${component} #${version} "${migrationName}" was changed after it was applied; ` +
        'add a new migration instead of editing an applied one',
    );
  }
}

/** The list itself is malformed: duplicate or non-positive versions, empty names. */
export class InvalidMigrationsError extends MigrationError {
  readonly code = 'INVALID_MIGRATIONS';
}

const trackingTable = 'public.touchline_migrations';

// Every component migrates under the same lock, which also guards the tracking table's creation.
const lockSql = `SELECT pg_advisory_xact_lock(hashtextextended('touchline_migrations', 0))`;

const createTrackingTableSql = `
CREATE TABLE IF NOT EXISTS ${trackingTable} (
  component  text        NOT NULL,
  version    integer     NOT NULL,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (component, version)
)`;

export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * Applies the component's pending migrations in version order, each in its own transaction,
 * serialized across processes by an advisory lock. Refuses to run when an applied migration's
 * SQL changed. Versions applied by a newer release and unknown here are left alone, so an
 * older instance can still start during a rolling deploy.
 */
export async function runMigrations(pool: Pool, set: MigrationSet): Promise<MigrationReport> {
  const migrations = validatedOrThrow(set);
  const applied: { version: number; name: string }[] = [];
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    for (;;) {
      const next = await inTransaction(client, async () => {
        await client.query(lockSql);
        await client.query(createTrackingTableSql);
        const { rows } = await client.query<{ version: number; checksum: string }>(
          `SELECT version, checksum FROM ${trackingTable} WHERE component = $1`,
          [set.name],
        );
        const checksums = new Map(rows.map((row) => [row.version, row.checksum]));
        for (const migration of migrations) {
          const stored = checksums.get(migration.version);
          if (stored !== undefined && stored !== migration.checksum) {
            throw new MigrationChecksumMismatchError(set.name, migration.version, migration.name);
          }
        }
        const pending = migrations.find((migration) => !checksums.has(migration.version));
        if (!pending) return undefined;
        await client.query(pending.sql);
        await client.query(
          `INSERT INTO ${trackingTable} (component, version, name, checksum) VALUES ($1, $2, $3, $4)`,
          [set.name, pending.version, pending.name, pending.checksum],
        );
        return pending;
      });
      if (!next) break;
      applied.push({ version: next.version, name: next.name });
    }
  } catch (error) {
    // A connection that failed mid-transaction must not go back to the pool.
    if (!(error instanceof MigrationError))
      broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
  return { component: set.name, applied };
}

function validatedOrThrow(set: MigrationSet): (Migration & { checksum: string })[] {
  if (!set.name) throw new InvalidMigrationsError('Migration set needs a component name');
  const seen = new Set<number>();
  for (const migration of set.migrations) {
    if (!Number.isInteger(migration.version) || migration.version < 1) {
      throw new InvalidMigrationsError(
        `${set.name}: migration version ${migration.version} must be a positive integer`,
      );
    }
    if (seen.has(migration.version)) {
      throw new InvalidMigrationsError(
        `${set.name}: migration version ${migration.version} is duplicated`,
      );
    }
    if (!migration.name) {
      throw new InvalidMigrationsError(`${set.name}: migration ${migration.version} needs a name`);
    }
    seen.add(migration.version);
  }
  return [...set.migrations]
    .sort((a, b) => a.version - b.version)
    .map((migration) => ({ ...migration, checksum: migrationChecksum(migration.sql) }));
}

async function inTransaction<T>(client: PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
