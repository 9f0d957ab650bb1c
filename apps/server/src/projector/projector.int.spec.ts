import { compareCheckpoints } from '@touchline/event-store';
import { readAllStored } from '@touchline/event-store/testing';
import { PostgresEventStore } from '@touchline/event-store-postgres';
import { compileRulesOrThrow, DEFAULT_IDENTITY_RULES } from '@touchline/identity';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool } from 'pg';
import pino from 'pino';
import { compareWithLive, createEmptyCopies, NEXT_SCHEMA } from '../operations/shadow-tables';
import { CustomerProfileProjection } from '../profiles/customer-profile.projection';
import { migratedPool } from '../testing/migrated-pool';
import { parseFxTable } from '../value/domain/fx';
import type { Projection } from './projection';
import { MAX_DEFERRED_BATCHES, Projector } from './projector';

const projection = new CustomerProfileProjection(
  compileRulesOrThrow(DEFAULT_IDENTITY_RULES),
  parseFxTable('USD', 'EUR=1.10'),
);
const BATCH_SIZE = 5;
const VISITORS = 40;

/**
 * The live projector far behind the head (a backlog after an outage): it defers the profile
 * recomputes for at most MAX_DEFERRED_BATCHES batches in a row, applies plainly at the head,
 * and ends with the rows one plain apply of everything gives. On PGlite too: overlapping
 * batches there take turns at the one session, each transaction whole.
 */
describe.each(testDatabaseTargets())('projector catching up ($name)', (target) => {
  let database: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeAll(async () => {
    database = await target.create();
    pool = await migratedPool(database);
    store = new PostgresEventStore({ pool, pollIntervalMs: 20 });
    for (let visitor = 0; visitor < VISITORS; visitor += 1) {
      const anonymousId = `anon-${visitor}`;
      const userId = `user-${visitor % 7}`;
      const at = (minute: number) =>
        `2026-05-01T${String(10 + (visitor % 10)).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00.000Z`;
      await store.appendToStream(`visitor:${visitor}`, [
        {
          eventId: `00000000-0000-4000-8000-${String(visitor * 10 + 1).padStart(12, '0')}`,
          type: 'WebPageViewed',
          schemaVersion: 1,
          data: { userId: null, anonymousId, name: 'Home', properties: {}, context: {} },
          metadata: { channel: 'web', occurredAt: at(1) },
        },
        {
          eventId: `00000000-0000-4000-8000-${String(visitor * 10 + 2).padStart(12, '0')}`,
          type: 'UserIdentified',
          schemaVersion: 1,
          data: { userId, anonymousId, traits: { plan: `plan-${visitor}` }, context: {} },
          metadata: { channel: 'web', occurredAt: at(2) },
        },
      ]);
    }
  }, 60_000);

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  /** Empty tables and checkpoint, and a projection instance that never saw them. */
  const fresh = async () => {
    await pool.query(`TRUNCATE ${projection.tables.join(', ')}`);
    await pool.query('DELETE FROM projections.checkpoints');
    return new CustomerProfileProjection(
      compileRulesOrThrow(DEFAULT_IDENTITY_RULES),
      parseFxTable('USD', 'EUR=1.10'),
    );
  };

  /**
   * The projection, recording how each batch was applied: 'p' plain, 'd' with profile
   * recomputes deferred, 'q' deferred and queued (overlapping the next); 'x' a batch that
   * failed (`failOn` names the call that does).
   */
  const watched = (
    target: CustomerProfileProjection,
    applied: string[],
    options: { queued: boolean; failOn?: number },
  ): Projection => {
    const record = (how: string) => {
      if (applied.length + 1 === options.failOn) {
        applied.push('x');
        throw new Error('this batch fails');
      }
      applied.push(how);
    };
    return {
      name: target.name,
      version: target.version,
      tables: target.tables,
      apply: async (client, events) => {
        record('p');
        await target.apply(client, events);
      },
      applyCatchingUp: async (client, events) => {
        record('d');
        await target.applyCatchingUp(client, events);
      },
      ...(options.queued
        ? {
            applyCatchingUpQueued: async (client, events, previous) => {
              record('q');
              return target.applyCatchingUpQueued(client, events, previous);
            },
          }
        : {}),
    };
  };

  /** Run a projector until it has applied up to the head. */
  const catchUp = async (projected: Projection, applied: string[]) => {
    const projector = new Projector(pool, store, projected, pino({ level: 'silent' }), {
      batchSize: BATCH_SIZE,
    });
    // Where every stored event is readable (store.head() could stop short while a write
    // transaction of another spec on the server runs).
    const { checkpoint: head } = await readAllStored(store, VISITORS * 2);
    projector.start();
    try {
      for (let waited = 0; compareCheckpoints(projector.position, head) < 0; waited += 20) {
        if (waited > 30_000) throw new Error(`not caught up: ${applied.join('')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await projector.stop();
    }
  };

  /** No profile left to recompute, and every table as one plain apply of everything gives it. */
  const expectPlainRows = async () => {
    const pending = await pool.query('SELECT 1 FROM read_models.profile_recompute_pending');
    expect(pending.rowCount).toBe(0);
    const client = await pool.connect();
    try {
      await createEmptyCopies(client, projection.tables, NEXT_SCHEMA);
      const { events } = await readAllStored(store, VISITORS * 2);
      await client.query('BEGIN');
      await projection.inSchema(NEXT_SCHEMA).apply(client, events);
      await client.query('COMMIT');
      // The generation names the last write; every other table must be equal row for row.
      const tables = projection.tables.filter((t) => !t.endsWith('.identity_generation'));
      const differences = await compareWithLive(client, tables, NEXT_SCHEMA);
      for (const difference of differences) {
        expect(difference).toMatchObject({ onlyInLive: 0, onlyInRebuilt: 0 });
      }
      const profiles = differences.find((d) => d.table.endsWith('.customer_profiles'));
      expect(profiles?.liveRows).toBeGreaterThan(5);
    } finally {
      client.release();
    }
  };

  it.each([
    ['one batch at a time', false, 'd'],
    ['overlapping batches', true, 'q'],
  ] as const)(
    'defers profile recomputes while far behind, never for more than the bound, and ends with the plain rows (%s)',
    async (_name, queued, deferred) => {
      const applied: string[] = [];
      await catchUp(watched(await fresh(), applied, { queued }), applied);

      const batches = (VISITORS * 2) / BATCH_SIZE;
      expect(applied).toHaveLength(batches);
      // Far behind: deferred, MAX_DEFERRED_BATCHES in a row at most; at the head: plain.
      const sequence = applied.join('');
      expect(sequence).toMatch(new RegExp(`^${deferred}{${MAX_DEFERRED_BATCHES}}p`));
      expect(sequence).toMatch(new RegExp(`^[${deferred}p]+$`));
      expect(applied.at(-1)).toBe('p');
      for (const run of sequence.split('p'))
        expect(run.length).toBeLessThanOrEqual(MAX_DEFERRED_BATCHES);
      await expectPlainRows();
    },
  );

  it('restarts from the stored checkpoint when an overlapping batch fails, and ends with the plain rows', async () => {
    const applied: string[] = [];
    await catchUp(watched(await fresh(), applied, { queued: true, failOn: 4 }), applied);
    const sequence = applied.join('');
    // Three queued, the fourth failed; after the restart the fourth batch again, and the rest.
    expect(sequence).toMatch(/^qqqx/);
    expect(sequence.length).toBeGreaterThan((VISITORS * 2) / BATCH_SIZE);
    await expectPlainRows();
  });
});
