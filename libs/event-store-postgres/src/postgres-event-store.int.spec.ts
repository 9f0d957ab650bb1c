import { randomUUID } from 'node:crypto';
import { EventStoreUnavailableError, type NewEvent } from '@touchline/event-store';
import { describeEventStoreContract, readAllStored } from '@touchline/event-store/testing';
import { createPool, runMigrations } from '@touchline/platform';
import { testDatabaseTargets } from '@touchline/platform/testing';
import { appendToStreamWithin } from './append';
import { eventStoreMigrationSet } from './migrations';
import { oldestTransactionAgeSeconds } from './oldest-transaction-age';
import { PostgresEventStore } from './postgres-event-store';

jest.setTimeout(60_000);

const newEvent = (): NewEvent => ({
  eventId: randomUUID(),
  type: 'PageViewed',
  schemaVersion: 1,
  data: {},
});

describe.each(testDatabaseTargets())('PostgresEventStore on $name', (target) => {
  describeEventStoreContract(
    `postgres (${target.name})`,
    async () => {
      const database = await target.create();
      const pool = createPool(database.url, { max: 12 });
      await runMigrations(pool, eventStoreMigrationSet);
      const store = new PostgresEventStore({ pool, pollIntervalMs: 20 });
      return {
        store,
        beginAppend: async (streamId, events) => {
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            await appendToStreamWithin(client, streamId, events);
          } catch (error) {
            await client.query('ROLLBACK');
            client.release();
            throw error;
          }
          const end = async (sql: 'COMMIT' | 'ROLLBACK') => {
            try {
              await client.query(sql);
            } finally {
              client.release();
            }
          };
          return { commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
        },
        teardown: async () => {
          await store.close();
          await pool.end();
          await database.drop();
        },
      };
    },
    { transactions: true, interleavesTransactions: target.interleavesTransactions },
  );

  describe('adapter specifics', () => {
    let drop: () => Promise<void>;
    let url: string;

    beforeAll(async () => {
      const database = await target.create();
      drop = database.drop;
      url = database.url;
      const pool = createPool(url);
      await runMigrations(pool, eventStoreMigrationSet);
      await pool.end();
    });

    afterAll(async () => {
      await drop?.();
    });

    it('close() leaves a pool it was given open, and ends one it created', async () => {
      const pool = createPool(url);
      const store = new PostgresEventStore({ pool });
      await store.close();
      await expect(pool.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
      await pool.end();

      const owning = PostgresEventStore.connect(url);
      await owning.appendToStream(`s-${randomUUID()}`, [newEvent()]);
      await owning.close();
      await expect(owning.head()).rejects.toThrow();
    });

    it('close() stops running subscriptions', async () => {
      const store = PostgresEventStore.connect(url, { pollIntervalMs: 10 });
      const subscription = store.subscribeToAll({ onBatch: () => Promise.resolve() });
      await store.close();
      await expect(subscription.done).resolves.toBeUndefined();
    });

    it('reports an unreachable database as EventStoreUnavailableError', async () => {
      // Port 1 on localhost refuses connections.
      const store = PostgresEventStore.connect('postgres://postgres@127.0.0.1:1/postgres', {
        pool: { connectionTimeoutMillis: 1_000 },
      });
      try {
        await expect(
          store.appendToStream(`s-${randomUUID()}`, [newEvent()]),
        ).rejects.toBeInstanceOf(EventStoreUnavailableError);
        await expect(
          store.ingest([{ streamId: 's', events: [newEvent()] }]),
        ).rejects.toBeInstanceOf(EventStoreUnavailableError);
        await expect(store.readAll()).rejects.toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE' });
      } finally {
        await store.close();
      }
    });

    // Defined on PGlite only: a fresh database has a small transaction id, so reaching the next
    // digit is cheap; a shared server's cluster-wide id may need millions of transactions. The
    // ordering SQL is the same on both.
    if (target.kind === 'pglite')
      it('orders by transaction id as a number when it gains a digit', async () => {
        const pool = createPool(url);
        const store = new PostgresEventStore({ pool });
        try {
          const start = await store.head();
          const stream = `digits-${randomUUID()}`;
          const before = newEvent();
          await store.appendToStream(stream, [before]);
          // Burn transaction ids up to the next power of ten (one committed transaction each).
          const { rows } = await pool.query<{ xid: string }>(
            'SELECT pg_current_xact_id()::text AS xid',
          );
          const burn = 10 ** rows[0]!.xid.length - Number(rows[0]!.xid);
          await pool.query(
            `DO $$ BEGIN FOR i IN 1..${burn} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`,
          );
          const after = newEvent();
          await store.appendToStream(stream, [after]);

          const read = await store.readAll({ after: start });
          const own = read.events.filter((e) => e.streamId === stream);
          expect(own.map((e) => e.eventId)).toEqual([before.eventId, after.eventId]);
          expect(String(own[1]!.transactionId).length).toBeGreaterThan(
            String(own[0]!.transactionId).length,
          );
          expect(await store.head()).toEqual(read.checkpoint);
        } finally {
          await store.close();
          await pool.end();
        }
      });

    it('migrations are idempotent', async () => {
      const pool = createPool(url);
      try {
        expect((await runMigrations(pool, eventStoreMigrationSet)).applied).toEqual([]);
      } finally {
        await pool.end();
      }
    });

    if (target.interleavesTransactions) {
      it('a write transaction in another database of the server holds readAll back until it ends', async () => {
        const other = await target.create();
        const otherPool = createPool(other.url);
        const holder = await otherPool.connect();
        const store = PostgresEventStore.connect(url);
        try {
          const start = await store.head();
          await holder.query('BEGIN');
          await holder.query('SELECT pg_current_xact_id()');
          const stream = `held-${randomUUID()}`;
          await store.appendToStream(stream, [newEvent()]);
          // Committed, and still not readable: the other database's transaction is older.
          expect((await store.readAll({ after: start })).events).toEqual([]);
          expect(await store.head()).toEqual(start);
          // Every event of this database, ours last: readAllStored waits until all are readable.
          const counter = createPool(url);
          const { rows } = await counter
            .query<{ stored: string }>('SELECT count(*) AS stored FROM event_store.events')
            .finally(() => counter.end());
          const waiting = readAllStored(store, Number(rows[0]?.stored));
          await new Promise((resolve) => setTimeout(resolve, 100));
          await holder.query('COMMIT');
          const { events } = await waiting;
          expect(events.at(-1)?.streamId).toBe(stream);
        } finally {
          await holder.query('ROLLBACK').catch(() => undefined);
          holder.release();
          await otherPool.end();
          await other.drop();
          await store.close();
        }
      });

      it('oldestTransactionAgeSeconds sees a transaction left open', async () => {
        const pool = createPool(url);
        const holder = await pool.connect();
        try {
          await holder.query('BEGIN');
          await holder.query('SELECT pg_current_xact_id()');
          await new Promise((resolve) => setTimeout(resolve, 1_100));
          expect(await oldestTransactionAgeSeconds(pool)).toBeGreaterThanOrEqual(1);
        } finally {
          await holder.query('ROLLBACK');
          holder.release();
          await pool.end();
        }
      });
    } else {
      it('oldestTransactionAgeSeconds answers a number on PGlite', async () => {
        const pool = createPool(url);
        try {
          expect(await oldestTransactionAgeSeconds(pool)).toBeGreaterThanOrEqual(0);
        } finally {
          await pool.end();
        }
      });
    }
  });
});
