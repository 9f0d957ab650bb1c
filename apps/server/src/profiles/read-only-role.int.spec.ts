import { randomBytes } from 'node:crypto';
import { createPool } from '@touchline/platform';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool } from 'pg';

/**
 * docs/read-models.md tells operators how to give a BI tool read access to the read models and
 * nothing else. These are its exact statements (with a generated role name): the role reads
 * profiles, and can neither read the raw history, keys or admin inputs nor write anything.
 */
import { migratedPool } from '../testing/migrated-pool';
describe.each(testDatabaseTargets())('read-only role for BI tools ($name)', (target) => {
  let database: TestDatabase;
  let pool: Pool;
  const role = `bi_reader_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    database = await target.create();
    pool = await migratedPool(database);
    await pool.query(`CREATE ROLE ${role} LOGIN`);
    await pool.query(`GRANT USAGE ON SCHEMA read_models TO ${role}`);
    await pool.query(`GRANT SELECT ON ALL TABLES IN SCHEMA read_models TO ${role}`);
    await pool.query(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA read_models GRANT SELECT ON TABLES TO ${role}`,
    );
  }, 60_000);

  afterAll(async () => {
    await pool.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await pool.end();
    await database.drop();
    // Roles belong to the server, not the database: drop it once the database is gone.
    if (target.kind === 'postgresql') {
      const admin = createPool(database.url.replace(/\/[^/]+$/, '/postgres'));
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  /** Runs one statement as the BI role; the error code when PostgreSQL refuses it. */
  async function asReader(sql: string): Promise<{ rows: number } | { refused: string }> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL ROLE ${role}`);
      const result = await client.query(sql);
      return { rows: result.rowCount ?? 0 };
    } catch (error: unknown) {
      return { refused: (error as { code?: string }).code ?? 'unknown' };
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  it('reads every read model', async () => {
    for (const table of [
      'customer_profiles',
      'customer_identifiers',
      'identity_links',
      'customer_touchpoints',
      'customer_activity',
      'web_sessions',
    ]) {
      expect(await asReader(`SELECT * FROM read_models.${table} LIMIT 1`)).toEqual({ rows: 0 });
    }
  });

  it('cannot read the history, keys, dead letters or admin inputs, and cannot write', async () => {
    // 42501: insufficient_privilege.
    for (const sql of [
      'SELECT * FROM event_store.events LIMIT 1',
      'SELECT * FROM access.api_keys LIMIT 1',
      'SELECT * FROM ingest.dead_letters LIMIT 1',
      'SELECT * FROM identity.revocations LIMIT 1',
      `INSERT INTO read_models.customer_identifiers VALUES ('userId:x', 'userId', 'c')`,
      'DELETE FROM read_models.customer_profiles',
    ]) {
      expect({ sql, outcome: await asReader(sql) }).toEqual({
        sql,
        outcome: { refused: '42501' },
      });
    }
  });
});
