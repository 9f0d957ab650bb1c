import { randomUUID } from 'node:crypto';
import { type GlobalCheckpoint } from '@touchline/event-store';
import { eventStoreMigrationSet, PostgresEventStore } from '@touchline/event-store-postgres';
import { createPool, runMigrations } from '@touchline/platform';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool } from 'pg';
import { ProjectionStatusReader } from './projection-status';

/**
 * Where `--until` and `--to` rebuilds stop. Defined on PGlite only: a fresh database has a small
 * transaction id, so reaching its next digit is cheap; a shared server's ids are server-wide and
 * may need millions of transactions. The SQL is the same on both.
 */
describe.each(testDatabaseTargets().filter((target) => target.kind === 'pglite'))(
  'projection status: checkpoints by position and time ($name)',
  (target) => {
    let database: TestDatabase;
    let pool: Pool;
    let store: PostgresEventStore;

    beforeAll(async () => {
      database = await target.create();
      pool = createPool(database.url);
      await runMigrations(pool, eventStoreMigrationSet);
      store = new PostgresEventStore({ pool });
    }, 60_000);

    afterAll(async () => {
      await store?.close();
      await pool?.end();
      await database?.drop();
    });

    it('finds the last event stored before a time, also once transaction ids gain a digit', async () => {
      const append = async (): Promise<GlobalCheckpoint> => {
        await store.appendToStream(`status-${randomUUID()}`, [
          { eventId: randomUUID(), type: 'PageViewed', schemaVersion: 1, data: {} },
        ]);
        return store.head();
      };
      const before = await append();
      // Burn transaction ids up to the next power of ten (one committed transaction each).
      const { rows } = await pool.query<{ xid: string }>(
        'SELECT pg_current_xact_id()::text AS xid',
      );
      const burn = 10 ** (rows[0]?.xid.length ?? 1) - Number(rows[0]?.xid);
      await pool.query(
        `DO $$ BEGIN FOR i IN 1..${burn} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`,
      );
      const after = await append();
      expect(String(after.transactionId).length).toBeGreaterThan(
        String(before.transactionId).length,
      );

      const status = new ProjectionStatusReader(pool);
      expect(await status.checkpointAtTime(new Date(Date.now() + 60_000))).toEqual(after);
      expect(await status.checkpointAtTime(new Date('2001-01-01T00:00:00Z'))).toBeNull();
      expect(await status.checkpointAt(after.position)).toEqual(after);
      expect(await status.checkpointAt(before.position)).toEqual(before);
    });
  },
);
