import type { RecordedEvent } from '@touchline/event-store';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool, PoolClient } from 'pg';
import { customerProductsProjection } from '../cross-sell/customer-products.projection';
import { crossSellMigrationSet } from '../cross-sell/cross-sell.migrations';
import { consentHistoryProjectionFromEnv } from '../privacy/consent/consent-history.projection';
import { consentMigrationSet } from '../privacy/consent/consent.migrations';
import type { Projection } from '../projector/projection';
import { migratedPool } from '../testing/migrated-pool';
import { customerValueProjectionFromEnv } from '../value/customer-value.projection';
import { compareWithLive, createEmptyCopies, NEXT_SCHEMA, tablesIn } from './shadow-tables';

let position = 0n;
function recorded(
  type: string,
  streamId: string,
  data: Record<string, unknown>,
  occurredAt = '2026-05-01T10:00:00.000Z',
): RecordedEvent {
  position += 1n;
  return {
    eventId: `ev-${String(position)}`,
    type,
    data,
    schemaVersion: 1,
    streamId,
    streamVersion: 0,
    globalPosition: position,
    transactionId: 1n,
    metadata: { channel: 'web', occurredAt },
    recordedAt: new Date(occurredAt),
  };
}

const order = (key: string, orderId: string, data: Record<string, unknown> = {}) =>
  recorded('OrderCompleted', key, {
    orderId,
    currency: 'USD',
    products: [{ productId: 'A', price: '40.00', quantity: 1 }],
    ...data,
  });
const refund = (
  key: string,
  orderId: string,
  data: Record<string, unknown> = {},
  occurredAt?: string,
) => recorded('OrderRefunded', key, { orderId, currency: 'USD', ...data }, occurredAt);
const banner = (userId: string, analytics: boolean, occurredAt: string) =>
  recorded(
    'WebEventTracked',
    `user:${userId}`,
    {
      userId,
      event: 'Viewed',
      context: { consent: { categoryPreferences: { Analytics: analytics } } },
    },
    occurredAt,
  );

/**
 * Histories that take every path of each projection, including the ones that read back what an
 * earlier batch wrote (a duplicate order, a refund settled later, a banner repeated).
 */
const cases: { projection: Projection; events: RecordedEvent[] }[] = [
  {
    projection: customerValueProjectionFromEnv({ TOUCHLINE_FX_RATES: 'EUR=1.08' }),
    events: [
      order('user:ada', 'o-1', { total: '100.00' }),
      order('user:ada', 'o-1', { total: '100.00' }), // another event: duplicate-order
      refund('user:ada', 'o-1', { total: '30.00' }),
      refund('user:ada', 'o-1', { total: '100.00' }), // refund-exceeds-order
      refund('user:bob', 'o-2', { total: '5.00' }), // refund-without-order, resolved next
      order('user:bob', 'o-2', { total: '20.00' }),
      order('user:bob', 'o-3', { currency: 'EUR', total: '10.00' }),
      order('user:cy', 'o-4', { currency: 'XXX', total: '1.00' }), // unknown-currency
      refund('user:cy', 'o-9'), // never ordered: stays flagged
      order('user:dee', 'o-5', { total: '50.00' }),
      // Together more than the order, and stored in the reverse of event time: by event time
      // the 30 is counted in full and the 40 exceeds what is left, however they are batched.
      refund('user:dee', 'o-5', { total: '40.00' }, '2026-05-01T10:05:00.000Z'),
      refund('user:dee', 'o-5', { total: '30.00' }, '2026-05-01T10:01:00.000Z'),
    ],
  },
  {
    projection: customerProductsProjection,
    events: [
      order('user:ada', 'o-1', { products: [{ productId: 'A' }, { productId: 'B' }] }),
      order('user:ada', 'o-1', { products: [{ productId: 'Z' }] }), // same order id: no lines
      refund('user:ada', 'o-1', { products: [{ productId: 'B' }] }),
      order('user:ada', 'o-2', { products: [{ productId: 'C', quantity: 2 }] }),
      refund('user:ada', 'o-2', { products: [{ productId: 'C', quantity: 1 }] }),
      refund('user:bob', 'o-3'), // the whole order, before it arrives
      order('user:bob', 'o-3', { products: [{ productId: 'D' }] }),
      order('user:bob', 'o-4', { products: [{ productId: 'E' }] }),
    ],
  },
  {
    projection: consentHistoryProjectionFromEnv({}),
    events: [
      banner('ada', true, '2026-05-01T09:00:00.000Z'),
      banner('ada', true, '2026-05-01T09:05:00.000Z'), // no change: not recorded
      banner('ada', false, '2026-05-01T09:10:00.000Z'),
      banner('ada', true, '2026-05-01T08:00:00.000Z'), // late, older than the latest: recorded
      recorded('ConsentChanged', 'user:ada', {
        userId: 'ada',
        purpose: 'email_marketing',
        granted: true,
        source: 'web-banner',
      }),
      banner('bob', false, '2026-05-01T09:00:00.000Z'),
    ],
  },
];

/** The client, recording the text of every statement sent through it. */
function recording(client: PoolClient, statements: string[]): PoolClient {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== 'query' || typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const [text] = args;
        statements.push(typeof text === 'string' ? text : JSON.stringify(text));
        return Reflect.apply(value, target, args);
      };
    },
  });
}

/**
 * A blue/green rebuild's copy (`inSchema(read_models_next)`) of the projections that got one
 * last: every statement it sends names its own tables only, and one event per batch (so every
 * read of an earlier batch's rows happens) gives the rows the live projection gives.
 */
describe.each(testDatabaseTargets())('blue/green copies of the projections ($name)', (target) => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await target.create();
    pool = await migratedPool(database, [crossSellMigrationSet, consentMigrationSet]);
  }, 60_000);

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  const withClient = async <T>(work: (client: PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  };
  /** Apply the events one per transaction, as a projector with batches of one would. */
  const applyOneByOne = async (
    projection: Projection,
    events: readonly RecordedEvent[],
    wrap: (client: PoolClient) => PoolClient = (client) => client,
  ) => {
    for (const event of events) {
      await withClient(async (client) => {
        await client.query('BEGIN');
        try {
          await projection.apply(wrap(client), [event]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      });
    }
  };
  const rowCounts = async (tables: readonly string[]) => {
    const counts: Record<string, number> = {};
    for (const table of tables) {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      counts[table] = rows[0]?.n ?? -1;
    }
    return counts;
  };

  it.each(cases.map((c) => [c.projection.name, c] as const))(
    '%s: the copy writes and reads only its own schema, and equals the live rows',
    async (_name, { projection, events }) => {
      const tables = projection.tables ?? [];
      const copy = projection.inSchema?.(NEXT_SCHEMA);
      if (!copy) throw new Error(`${projection.name} has no inSchema`);
      expect(copy.tables).toEqual(tablesIn(tables, NEXT_SCHEMA));
      await withClient(async (client) => {
        await client.query(`TRUNCATE ${tables.join(', ')}`);
        await createEmptyCopies(client, tables, NEXT_SCHEMA);
      });

      // The copy first, while the live tables are empty: reading them would change its rows.
      const statements: string[] = [];
      await applyOneByOne(copy, events, (c) => recording(c, statements));
      expect(statements.length).toBeGreaterThan(events.length);
      expect(statements.filter((text) => /\bread_models\./.test(text))).toEqual([]);
      const zero = Object.fromEntries(tables.map((table) => [table, 0]));
      expect(await rowCounts(tables)).toEqual(zero);

      await applyOneByOne(projection, events);
      await expectCopyEqualsLive(tables);
    },
  );

  it.each(cases.map((c) => [c.projection.name, c] as const))(
    '%s: the whole history in one batch gives the rows of one event per batch',
    async (_name, { projection, events }) => {
      const tables = projection.tables ?? [];
      const copy = projection.inSchema?.(NEXT_SCHEMA);
      if (!copy) throw new Error(`${projection.name} has no inSchema`);
      await withClient(async (client) => {
        await client.query(`TRUNCATE ${tables.join(', ')}`);
        await createEmptyCopies(client, tables, NEXT_SCHEMA);
        // A rebuild's batches are large: what one-event batches read back from an earlier
        // batch (an order before its refund, say) is in the same batch here.
        await client.query('BEGIN');
        await copy.apply(client, events);
        await client.query('COMMIT');
      });
      await applyOneByOne(projection, events);
      await expectCopyEqualsLive(tables);
    },
  );

  /** The copy's rows equal the live tables', which all have rows (no empty comparison). */
  const expectCopyEqualsLive = async (tables: readonly string[]) => {
    const live = await rowCounts(tables);
    for (const table of tables) expect(live[table]).toBeGreaterThan(0);
    const differences = await withClient((client) => compareWithLive(client, tables, NEXT_SCHEMA));
    expect(differences).toEqual(
      tables.map((table): unknown =>
        expect.objectContaining({
          table,
          liveRows: live[table],
          rebuiltRows: live[table],
          onlyInLive: 0,
          onlyInRebuilt: 0,
        }),
      ),
    );
  };
});
