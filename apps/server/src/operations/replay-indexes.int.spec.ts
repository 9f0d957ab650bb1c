import type { RecordedEvent } from '@touchline/event-store';
import { readAllStored } from '@touchline/event-store/testing';
import { PostgresEventStore } from '@touchline/event-store-postgres';
import { compileRulesOrThrow, DEFAULT_IDENTITY_RULES } from '@touchline/identity';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool, PoolClient } from 'pg';
import pino from 'pino';
import { CustomerProfileProjection } from '../profiles/customer-profile.projection';
import type { Projection } from '../projector/projection';
import { applyBatchWithCheckpoint } from '../projector/projector';
import { migratedPool } from '../testing/migrated-pool';
import { parseFxTable } from '../value/domain/fx';
import { operationsMigrationSet } from './operations.migrations';
import { ProjectionRebuilder, type RebuildProgress } from './projection-rebuilder';
import { ProjectionStatusReader } from './projection-status';
import { restoreIndexes, setAsideIndexes } from './replay-indexes';
import { createEmptyCopies, dropCopies, NEXT_SCHEMA } from './shadow-tables';

const projection = new CustomerProfileProjection(
  compileRulesOrThrow(DEFAULT_IDENTITY_RULES),
  parseFxTable('USD', 'EUR=1.10'),
);
const TABLE_NAMES = (projection.tables ?? []).map((table) => table.split('.')[1] ?? '');
const SET_ASIDE: readonly string[] = projection.indexesBuiltAfterReplay;

/** Visitors who browse, identify and get an email: every table of the projection gets rows. */
function history(): { streamId: string; type: string; data: Record<string, unknown> }[] {
  const events = [];
  for (let visitor = 0; visitor < 12; visitor += 1) {
    const anonymousId = `anon-${visitor}`;
    const userId = `user-${visitor % 9}`;
    events.push(
      {
        streamId: `anon:${anonymousId}`,
        type: 'WebPageViewed',
        data: { userId: null, anonymousId, name: 'Home', properties: {}, context: {} },
      },
      {
        streamId: `user:${userId}`,
        type: 'UserIdentified',
        data: {
          userId,
          anonymousId,
          traits: { email: `${userId}@example.com`, plan: visitor % 2 ? 'pro' : 'free' },
          context: {},
        },
      },
      {
        streamId: `email:${userId}`,
        type: 'EmailOpened',
        data: { recipient: `${userId}@example.com`, campaignId: 'spring', provider: 'sendgrid' },
      },
    );
  }
  return events;
}

/**
 * Rebuilds of the profile projection through the real rebuilder. Indexes built after the replay
 * (replay-indexes.ts): a rebuild from zero drops the ones the projection names and builds them
 * again at the end, whatever the outcome, and a process that starts builds again what a dead one
 * left dropped. Then a dry run, and unmerges made by another process while a rebuild runs.
 */
describe.each(testDatabaseTargets())('rebuilds of the profile projection ($name)', (target) => {
  let database: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeAll(async () => {
    database = await target.create();
    pool = await migratedPool(database, [operationsMigrationSet]);
    store = new PostgresEventStore({ pool, pollIntervalMs: 20 });
    let n = 0;
    for (const { streamId, type, data } of history()) {
      n += 1;
      await store.appendToStream(streamId, [
        {
          eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
          type,
          schemaVersion: 1,
          data,
          metadata: {
            channel: type === 'EmailOpened' ? 'email' : 'web',
            occurredAt: `2026-05-01T10:${String(n).padStart(2, '0')}:00.000Z`,
          },
        },
      ]);
    }
    // The live rows, as the projector writes them.
    const { events, checkpoint } = await readAllStored(store, history().length);
    await applyBatchWithCheckpoint(pool, projection, events, checkpoint);
  }, 60_000);

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  /** Every index of the projection's tables in `schema`: name → definition. */
  const indexes = async (
    schema = 'read_models',
    on: Pool | PoolClient = pool,
  ): Promise<Record<string, string>> => {
    const { rows } = await on.query<{ name: string; definition: string }>(
      `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
          WHERE schemaname = $1 AND tablename = ANY($2) ORDER BY 1`,
      [schema, TABLE_NAMES],
    );
    return Object.fromEntries(rows.map((row) => [row.name, row.definition]));
  };
  const dump = async (): Promise<string[]> => {
    const rows: string[] = [];
    // The generation names the last write, a new value each time.
    for (const table of TABLE_NAMES.filter((name) => name !== 'identity_generation')) {
      const result = await pool.query<{ row: string }>(
        `SELECT t::text AS row FROM read_models.${table} t ORDER BY 1`,
      );
      rows.push(...result.rows.map((r) => `${table} ${r.row}`));
    }
    return rows;
  };
  const rebuilder = (logger = pino({ level: 'silent' })) =>
    new ProjectionRebuilder(
      pool,
      store,
      new ProjectionStatusReader(pool),
      () => undefined,
      logger,
      { batchSize: 5, heartbeatMs: 50 },
    );
  const untilDone = async (r: ProjectionRebuilder, name: string): Promise<RebuildProgress> => {
    for (;;) {
      const latest = await r.latest(name);
      if (latest && latest.status !== 'running') return latest;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  /**
   * What a rebuild that did not finish leaves behind: its row, holding the indexes it set
   * aside, and those indexes dropped. `alsoInTransaction` runs before the commit.
   */
  const leaveUnfinishedRebuild = async (
    row: { id: string; status: string; heartbeatAt: string },
    alsoInTransaction: (client: PoolClient) => Promise<unknown> = () => Promise.resolve(),
  ) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const setAside = await setAsideIndexes(client, projection, 'read_models');
      await client.query(
        `INSERT INTO projections.rebuilds
           (id, projection, version, status, mode, heartbeat_at, set_aside_indexes)
         VALUES ($1, $2, 1, $3, 'rebuild', $4, $5)`,
        [row.id, projection.name, row.status, row.heartbeatAt, JSON.stringify(setAside)],
      );
      await alsoInTransaction(client);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
  const setAsideColumn = async (id: string) =>
    (
      await pool.query<{ set_aside_indexes: unknown }>(
        'SELECT set_aside_indexes FROM projections.rebuilds WHERE id = $1',
        [id],
      )
    ).rows[0]?.set_aside_indexes;
  /** An in-place rebuild from zero that nothing disturbs ends with exactly `rows`. */
  const expectUndisturbedRebuildGives = async (rows: readonly string[]) => {
    const again = rebuilder();
    await again.start(projection, { actorKeyId: null });
    expect(await untilDone(again, projection.name)).toMatchObject({ status: 'completed' });
    expect(await dump()).toEqual(rows);
  };
  /**
   * An admin's unmerge of what `eventId` linked, as another process makes it: through an
   * instance of its own, whose graph a rebuild's instance knows nothing of.
   */
  const unmergeFromAnotherProcess = async (eventId: string) => {
    const admin = new CustomerProfileProjection(
      compileRulesOrThrow(DEFAULT_IDENTITY_RULES),
      parseFxTable('USD', 'EUR=1.10'),
    );
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const outcome = await admin.revoke(
        client,
        { eventId },
        { reason: 'shared kiosk', requestedBy: 'test' },
      );
      await client.query('COMMIT');
      return outcome;
    } finally {
      client.release();
    }
  };
  /**
   * The projection, with `during` run on each batch's connection before the batch. `overlapped`:
   * its batches go through applyCatchingUpQueued, so the rebuilder overlaps them.
   */
  const watched = (
    during: (client: PoolClient, batch: number) => Promise<void>,
    options: { overlapped?: boolean } = {},
  ): Projection => {
    let batch = 0;
    const before = async (client: PoolClient) => {
      batch += 1;
      await during(client, batch);
    };
    return {
      name: projection.name,
      version: projection.version,
      tables: projection.tables,
      batchSize: 10,
      indexesBuiltAfterReplay: projection.indexesBuiltAfterReplay,
      apply: (client, events) => projection.apply(client, events),
      applyCatchingUp: async (client, events: readonly RecordedEvent[]) => {
        await before(client);
        await projection.applyCatchingUp(client, events);
      },
      ...(options.overlapped
        ? {
            applyCatchingUpQueued: async (client, events, previous) => {
              await before(client);
              return projection.applyCatchingUpQueued(client, events, previous);
            },
          }
        : {}),
    };
  };

  it('an in-place rebuild replays without the named indexes, builds them at the end and gives the same rows', async () => {
    const before = await indexes();
    const rows = await dump();
    expect(rows.length).toBeGreaterThan(50);
    for (const name of SET_ASIDE) expect(before[name]).toBeDefined();
    const seen: string[][] = [];
    const phases = new Set<string>();
    const r = rebuilder();
    const started = await r.start(
      watched(async (client) => {
        const phase = await client.query<{ phase: string }>(
          `SELECT phase FROM projections.rebuilds WHERE status = 'running'`,
        );
        phases.add(phase.rows[0]?.phase ?? 'none');
        const { rows: present } = await client.query<{ name: string }>(
          `SELECT indexname AS name FROM pg_indexes
              WHERE schemaname = 'read_models' AND tablename = ANY($1) ORDER BY 1`,
          [TABLE_NAMES],
        );
        seen.push(present.map((row) => row.name));
      }),
      { actorKeyId: null },
    );
    const done = await untilDone(r, projection.name);
    expect(done.status).toBe('completed');
    // Several batches, each without exactly the set-aside indexes.
    expect(seen.length).toBeGreaterThan(2);
    const kept = Object.keys(before).filter((name) => !SET_ASIDE.includes(name));
    for (const present of seen) expect(present).toEqual(kept);
    expect(await indexes()).toEqual(before);
    expect(await setAsideColumn(started.id)).toBeNull();
    expect(await dump()).toEqual(rows);
    // Its progress said what it was doing: replaying while batches ran, then the indexes.
    expect([...phases]).toEqual(['replaying']);
    expect(done.phase).toBe('building indexes');
  });

  it.each(['rebuild', 'blue-green'] as const)(
    'each phase after the replay is reported with every event counted (%s)',
    async (strategy) => {
      // Every write to the rebuild's row, in order; no heartbeat runs during this short
      // rebuild, so only the phase changes themselves can carry the count.
      await pool.query(`
        CREATE TABLE IF NOT EXISTS public.rebuild_row_history (phase text, events_applied bigint);
        TRUNCATE public.rebuild_row_history;
        CREATE OR REPLACE FUNCTION public.record_rebuild_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO public.rebuild_row_history VALUES (NEW.phase, NEW.events_applied);
          RETURN NEW;
        END $$;
        CREATE OR REPLACE TRIGGER record_rebuild_row AFTER UPDATE ON projections.rebuilds
          FOR EACH ROW EXECUTE FUNCTION public.record_rebuild_row();`);
      try {
        const quiet = new ProjectionRebuilder(
          pool,
          store,
          new ProjectionStatusReader(pool),
          () => undefined,
          pino({ level: 'silent' }),
          { batchSize: 5, heartbeatMs: 600_000 },
        );
        await quiet.start(projection, {
          actorKeyId: null,
          ...(strategy === 'blue-green' ? { strategy } : {}),
        });
        const done = await untilDone(quiet, projection.name);
        expect(done).toMatchObject({ status: 'completed', eventsApplied: history().length });
        const { rows } = await pool.query<{ phase: string; events_applied: string }>(
          'SELECT phase, events_applied FROM public.rebuild_row_history',
        );
        const after = rows.filter((row) => row.phase !== null && row.phase !== 'replaying');
        expect(after.map((row) => row.phase)).toEqual(
          strategy === 'rebuild'
            ? expect.arrayContaining(['completing deferred work', 'building indexes'])
            : expect.arrayContaining(['switching']),
        );
        for (const row of after) expect(Number(row.events_applied)).toBe(history().length);
      } finally {
        await pool.query('DROP TRIGGER record_rebuild_row ON projections.rebuilds');
      }
    },
  );

  it('a failed rebuild builds the indexes again before the live projector continues', async () => {
    const before = await indexes();
    const r = rebuilder();
    const started = await r.start(
      watched((_client, batch) =>
        batch === 2 ? Promise.reject(new Error('batch 2 breaks')) : Promise.resolve(),
      ),
      { actorKeyId: null },
    );
    const done = await untilDone(r, projection.name);
    expect(done).toMatchObject({ status: 'failed', errorMessage: 'batch 2 breaks' });
    expect(await indexes()).toEqual(before);
    expect(await setAsideColumn(started.id)).toBeNull();
  });

  it('builds again, on start, the indexes of a rebuild whose process died', async () => {
    const before = await indexes();
    // Its process died mid-replay: the row still says running, its heartbeat an hour old.
    await leaveUnfinishedRebuild({
      id: '00000000-0000-4000-8000-00000000dead',
      status: 'running',
      heartbeatAt: new Date(Date.now() - 3_600_000).toISOString(),
    });
    expect(Object.keys(await indexes()).length).toBe(Object.keys(before).length - SET_ASIDE.length);

    await rebuilder().recoverInterrupted([projection.name]);
    expect(await indexes()).toEqual(before);
    const { rows } = await pool.query(
      `SELECT status, error_code, set_aside_indexes FROM projections.rebuilds
          WHERE id = '00000000-0000-4000-8000-00000000dead'`,
    );
    expect(rows[0]).toEqual({
      status: 'interrupted',
      error_code: 'HEARTBEAT_LOST',
      set_aside_indexes: null,
    });
    // Twice is harmless: nothing is left to build.
    await rebuilder().recoverInterrupted([projection.name]);
    expect(await indexes()).toEqual(before);
  });

  it('an index the rows no longer allow does not stop a start; the next rebuild builds it', async () => {
    const before = await indexes();
    await leaveUnfinishedRebuild(
      {
        id: '00000000-0000-4000-8000-0000000000ab',
        status: 'failed',
        heartbeatAt: new Date().toISOString(),
      },
      // A row the primary key would refuse: the index cannot be built over these rows.
      (client) =>
        client.query(
          `INSERT INTO read_models.identity_observations
           SELECT * FROM read_models.identity_observations LIMIT 1`,
        ),
    );
    const missing = Object.keys(before).length - SET_ASIDE.length;

    await expect(rebuilder().recoverInterrupted([projection.name])).resolves.toBeUndefined();
    expect(Object.keys(await indexes())).toHaveLength(missing);

    const r = rebuilder();
    await r.start(projection, { actorKeyId: null });
    expect((await untilDone(r, projection.name)).status).toBe('completed');
    expect(await indexes()).toEqual(before);
    const left = await pool.query(
      'SELECT id FROM projections.rebuilds WHERE set_aside_indexes IS NOT NULL',
    );
    expect(left.rows).toEqual([]);
  });

  it("finds a blue/green copy's indexes by table and shape, and restores only missing ones", async () => {
    const live = await indexes();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await createEmptyCopies(client, projection.tables ?? [], NEXT_SCHEMA);
      const copy = await indexes(NEXT_SCHEMA, client);
      expect(Object.keys(copy).length).toBe(Object.keys(live).length);
      const setAside = await setAsideIndexes(client, projection, NEXT_SCHEMA);
      expect(setAside).toHaveLength(SET_ASIDE.length);
      const left = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1`,
        [NEXT_SCHEMA],
      );
      expect(left.rows[0]?.n).toBe(Object.keys(live).length - SET_ASIDE.length);
      // One built by hand already: the restore builds the others and skips it.
      const first = setAside[0];
      if (!first) throw new Error('nothing set aside');
      await client.query(first.definition);
      await restoreIndexes(client, setAside);
      const after = await client.query<{ name: string; definition: string }>(
        `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
            WHERE schemaname = $1 ORDER BY 1`,
        [NEXT_SCHEMA],
      );
      expect(Object.fromEntries(after.rows.map((row) => [row.name, row.definition]))).toEqual(copy);
      await dropCopies(client, projection.tables ?? [], NEXT_SCHEMA);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });

  it('refuses a projection that names an index its tables do not have', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await expect(
        setAsideIndexes(
          client,
          {
            name: 'customer_profiles',
            version: 1,
            tables: projection.tables,
            indexesBuiltAfterReplay: ['no_such_index'],
            apply: () => Promise.resolve(),
          },
          'read_models',
        ),
      ).rejects.toThrow('customer_profiles names indexes its tables do not have: no_such_index');
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('a dry run of the profile projection finds no difference with the live rows', async () => {
    const r = rebuilder();
    await r.start(projection, { actorKeyId: null, strategy: 'dry-run' });
    const done = await untilDone(r, projection.name);
    expect(done).toMatchObject({ status: 'completed', mode: 'dry-run' });
    // Every table that holds rows derived from the events, each with rows, none differing.
    // The generation row only names the last write (a new random value each time), so it is
    // not compared.
    const compared = (projection.tables ?? []).filter(
      (table) => !table.endsWith('.identity_generation') && !table.endsWith('_pending'),
    );
    expect(done.diff?.map((d) => d.table).sort()).toEqual(
      (projection.tables ?? []).filter((t) => !t.endsWith('.identity_generation')).sort(),
    );
    for (const difference of done.diff ?? []) {
      expect(difference).toMatchObject({ onlyInLive: 0, onlyInRebuilt: 0 });
      expect(difference.rebuiltRows).toBe(difference.liveRows);
      if (compared.includes(difference.table)) expect(difference.liveRows).toBeGreaterThan(0);
    }
  });

  // Defined where transactions interleave: the unmerge commits while a copy's batch is open.
  if (target.interleavesTransactions)
    it('an unmerge while a blue/green copy is built: the copy is built again with it, then switched in', async () => {
      const before = await dump();
      const copy = projection.inSchema(NEXT_SCHEMA);
      let copyBatches = 0;
      const unmerged: unknown[] = [];
      const beside: Projection = {
        name: projection.name,
        version: projection.version,
        tables: projection.tables,
        bookkeepingTables: projection.bookkeepingTables,
        indexesBuiltAfterReplay: projection.indexesBuiltAfterReplay,
        inputsOutsideTheLog: (client) => projection.inputsOutsideTheLog(client),
        apply: (client, events) => projection.apply(client, events),
        inSchema: () => ({
          name: copy.name,
          version: copy.version,
          tables: copy.tables,
          batchSize: 10,
          apply: (client, events) => copy.apply(client, events),
          applyCatchingUp: async (client, events) => {
            copyBatches += 1;
            // Event 5: visitor 1's identify, which the copy has applied by its second batch.
            if (copyBatches === 2)
              unmerged.push(
                await unmergeFromAnotherProcess('00000000-0000-4000-8000-000000000005'),
              );
            await copy.applyCatchingUp(client, events);
          },
        }),
      };
      const warnings: string[] = [];
      const r = rebuilder(
        pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) }),
      );
      await r.start(beside, { actorKeyId: null, strategy: 'blue-green' });
      const done = await untilDone(r, projection.name);
      expect(done).toMatchObject({ status: 'completed', mode: 'blue-green', errorMessage: null });
      expect(unmerged).toEqual([expect.objectContaining({ applied: true })]);
      // Four batches of ten, then the same four again, from zero, with the unmerge.
      expect(copyBatches).toBe(8);
      expect(warnings.join('')).toContain('building it again from zero');
      const switched = await dump();
      expect(switched).not.toEqual(before);

      // The rows switched in are the ones a replay that nothing disturbed gives.
      await expectUndisturbedRebuildGives(switched);
    });

  // Last: the unmerge it stores stays, and changes the rows every later replay gives. Defined
  // where transactions interleave (PostgreSQL): PGlite runs one transaction at a time, so no
  // other process can commit between two overlapped batches there.
  if (target.interleavesTransactions)
    it('an unmerge from another process between two overlapped batches: the replay goes again from its last commit and completes', async () => {
      const before = await dump();
      let batches = 0;
      const unmerged: unknown[] = [];
      const overlapped = watched(
        async (_client, batch) => {
          batches = batch;
          // Batch 3 is computed on the graph batch 2 left; the unmerge commits right after
          // batch 2 (it waits for its lock on the generation row), before batch 3 writes.
          if (batch === 3) {
            // Event 2: visitor 0's identify, in the first batch of ten.
            unmerged.push(await unmergeFromAnotherProcess('00000000-0000-4000-8000-000000000002'));
          }
        },
        { overlapped: true },
      );
      const warnings: string[] = [];
      const r = rebuilder(
        pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) }),
      );
      await r.start(overlapped, { actorKeyId: null });
      const done = await untilDone(r, projection.name);
      expect(done).toMatchObject({ status: 'completed', errorMessage: null });
      expect(unmerged).toEqual([expect.objectContaining({ applied: true })]);
      // Replayed again from the last commit (batch 2's): the four batches of the 36 events,
      // then batches 3 and 4 again.
      expect(batches).toBe(6);
      expect(warnings.join('')).toContain('replaying again from the last committed batch');
      const rows = await dump();
      expect(rows).not.toEqual(before);

      // The same rows as a replay that nothing disturbed, with the unmerge stored before it.
      await expectUndisturbedRebuildGives(rows);
    });
});
