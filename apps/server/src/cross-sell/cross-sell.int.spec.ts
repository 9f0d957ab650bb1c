import { affinityOptionsOrThrow, productAffinity } from '@touchline/customer-value';
import type { RecordedEvent } from '@touchline/event-store';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import fc from 'fast-check';
import type { Pool } from 'pg';
import { applyBatchWithCheckpoint } from '../projector/projector';
import { migratedPool } from '../testing/migrated-pool';
import { AffinityComputation } from './affinity-computation';
import { crossSellMigrationSet } from './cross-sell.migrations';
import { CrossSellQueries } from './cross-sell-queries';
import { customerProductsProjection } from './customer-products.projection';

let position = 0n;
function recorded(
  type: string,
  customerKey: string,
  data: Record<string, unknown>,
  eventId = `ev-${String(++position)}`,
): RecordedEvent {
  return {
    eventId,
    type,
    data,
    schemaVersion: 1,
    streamId: customerKey,
    streamVersion: 0,
    globalPosition: ++position,
    transactionId: 1n,
    metadata: { channel: 'web', occurredAt: '2026-05-01T10:00:00.000Z' },
    recordedAt: new Date('2026-05-01T10:00:00.000Z'),
  };
}

type Line = string | { productId?: string; sku?: string; quantity?: number };
const lineOf = (line: Line) =>
  typeof line === 'string'
    ? { productId: line, price: '1.00', quantity: 1 }
    : { productId: '', price: '1.00', quantity: 1, ...line };
const order = (key: string, orderId: string, lines: Line[], eventId?: string) =>
  recorded(
    'OrderCompleted',
    key,
    { orderId, currency: 'USD', total: '10.00', products: lines.map(lineOf) },
    eventId,
  );
const refund = (key: string, orderId: string, lines: Line[] = [], total: string | null = null) =>
  recorded('OrderRefunded', key, {
    orderId,
    currency: 'USD',
    total,
    products: lines.map(lineOf),
  });

async function reset(pool: Pool): Promise<void> {
  await pool.query(`TRUNCATE ${(customerProductsProjection.tables ?? []).join(', ')}`);
  await pool.query(
    'TRUNCATE read_models.customer_identifiers, read_models.customer_profiles, read_models.product_affinity',
  );
}

async function project(pool: Pool, events: readonly RecordedEvent[], batchSize = 100) {
  for (let i = 0; i < events.length; i += batchSize) {
    const batch = events.slice(i, i + batchSize);
    const last = batch[batch.length - 1]!;
    await applyBatchWithCheckpoint(pool, customerProductsProjection, batch, {
      transactionId: last.transactionId,
      position: last.globalPosition,
    });
  }
}

async function productsByKey(pool: Pool): Promise<Record<string, string[]>> {
  const rows = await pool.query<{ customer_key: string; product_id: string }>(
    `SELECT customer_key, product_id FROM read_models.customer_products
      ORDER BY customer_key, product_id COLLATE "C"`,
  );
  const result: Record<string, string[]> = {};
  for (const row of rows.rows) (result[row.customer_key] ??= []).push(row.product_id);
  return result;
}

describe.each(testDatabaseTargets())('cross-sell read models ($name)', (target) => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await target.create();
    pool = await migratedPool(database, [crossSellMigrationSet]);
  }, 60_000);

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  it('records products by id, else sku, once per order, and keeps them across a replay', async () => {
    await reset(pool);
    const events = [
      order('user:ada', 'o-1', ['A', { sku: 'SKU-B' }, {}, 'A']),
      order('user:ada', 'o-1', ['Z'], 'another-event-same-order'),
      order('user:bob', 'o-1', ['C']),
      recorded('WebPageViewed', 'user:ada', { name: 'Home' }),
    ];
    await project(pool, events);
    const expected = { 'user:ada': ['A', 'SKU-B'], 'user:bob': ['C'] };
    expect(await productsByKey(pool)).toEqual(expected);
    const a = await pool.query<{ orders: number }>(
      `SELECT orders FROM read_models.customer_products WHERE customer_key = 'user:ada' AND product_id = 'A'`,
    );
    expect(a.rows[0]?.orders).toBe(1);
    // Given the same events again (a redelivery), Then nothing changes
    await project(pool, events, 1);
    expect(await productsByKey(pool)).toEqual(expected);
  });

  it('takes products back on refunds: a whole order, all units of a product, not a partial amount', async () => {
    await reset(pool);
    await project(pool, [
      order('user:ada', 'o-1', ['A', 'B']),
      order('user:ada', 'o-2', ['B']),
      order('user:ada', 'o-3', [{ productId: 'C', quantity: 2 }, 'D', 'E']),
      refund('user:ada', 'o-1'), // whole order: A goes, B stays (bought again in o-2)
      refund('user:ada', 'o-3', [{ productId: 'C', quantity: 1 }]), // one of two units: C stays
      refund('user:ada', 'o-3', ['D']), // all units of D: D goes
      refund('user:ada', 'o-3', [], '5.00'), // an amount only: says nothing about products
    ]);
    expect(await productsByKey(pool)).toEqual({ 'user:ada': ['B', 'C', 'E'] });
  });

  it('gives the same products whatever order and batches the events come in', async () => {
    const events = [
      order('user:ada', 'o-1', ['A', 'B']),
      refund('user:ada', 'o-1'),
      order('user:ada', 'o-2', ['B', 'C']),
      refund('user:ada', 'o-2', ['C']),
      order('anon:x', 'o-9', ['A']),
      order('user:bob', 'o-3', ['A', { productId: 'D', quantity: 3 }]),
      refund('user:bob', 'o-3', [{ productId: 'D', quantity: 2 }]),
      order('user:bob', 'o-3', ['Z'], 'dup-of-o-3'),
    ];
    // The duplicate order event loses only when it comes after the first one.
    const permutable = events.slice(0, -1);
    const expected = { 'anon:x': ['A'], 'user:ada': ['B'], 'user:bob': ['A', 'D'] };
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray(permutable, { minLength: permutable.length }),
        fc.integer({ min: 1, max: 4 }),
        async (shuffled, batchSize) => {
          await reset(pool);
          await project(pool, [...shuffled, events[events.length - 1]!], batchSize);
          expect(await productsByKey(pool)).toEqual(expected);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('computes in SQL what the pure function computes over the same customers', async () => {
    await reset(pool);
    // A deterministic world: 60 customers, 12 products, skewed so that some pairs stand out.
    const events: RecordedEvent[] = [];
    const baskets = new Map<string, string[]>();
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (let c = 0; c < 60; c += 1) {
      const products = new Set<string>();
      for (let p = 0; p < 12; p += 1) if (random() < 0.8 / (1 + p / 2)) products.add(`P${p}`);
      if (products.has('P1')) products.add('P7'); // P1 buyers always take P7 as well
      if (c === 0) for (let p = 0; p < 12; p += 1) products.add(`P${p}`); // a reseller
      baskets.set(`user:c${c}`, [...products]);
      events.push(order(`user:c${c}`, `o-${c}`, [...products]));
    }
    await project(pool, events, 25);
    const options = affinityOptionsOrThrow({
      minCustomers: 2,
      minSupport: 0.05,
      maxProductsPerCustomer: 11,
    });
    const run = await new AffinityComputation(pool).compute(options, 'test');
    const expected = productAffinity(baskets, options);
    expect(run).toMatchObject({
      customers: expected.customers,
      excludedCustomers: 1,
      products: expected.products,
      pairs: expected.pairs,
      rules: expected.rules.length,
      truncated: false,
    });
    expect(expected.rules.length).toBeGreaterThan(20);
    const stored = await pool.query<{
      antecedent: string;
      consequent: string;
      customers_both: number;
      support: number;
      confidence: number;
      lift: number;
    }>('SELECT * FROM read_models.product_affinity');
    const byPair = new Map(stored.rows.map((r) => [`${r.antecedent}→${r.consequent}`, r]));
    expect(byPair.size).toBe(expected.rules.length);
    for (const rule of expected.rules) {
      const row = byPair.get(`${rule.antecedent}→${rule.consequent}`);
      expect(row).toMatchObject({
        customers_both: rule.customersBoth,
        support: rule.support,
        confidence: rule.confidence,
        lift: rule.lift,
      });
    }
    expect(byPair.get('P1→P7')?.confidence).toBe(1);
    // A bound on pairs keeps those with the most customers and says it truncated
    const bounded = await new AffinityComputation(pool).compute({ ...options, maxPairs: 3 }, null);
    expect(bounded).toMatchObject({ pairs: 3, rules: 6, truncated: true });
  });

  it('treats the keys of one unified customer as one basket, and ranks what they have not bought', async () => {
    await reset(pool);
    // Given Ada browsing anonymously then logged in (one customer), Bob and Cy
    await pool.query(
      `INSERT INTO read_models.customer_identifiers (identifier, kind, customer_id) VALUES
         ('userId:ada', 'userId', 'cust-ada'), ('anonymousId:a-1', 'anonymousId', 'cust-ada'),
         ('userId:bob', 'userId', 'cust-bob'), ('userId:cy', 'userId', 'cust-cy')`,
    );
    await project(pool, [
      order('anon:a-1', 'o-1', ['A']),
      order('user:ada', 'o-2', ['B']),
      order('user:bob', 'o-3', ['A', 'B', 'C']),
      order('user:cy', 'o-4', ['A']),
      order('user:dee', 'o-5', ['C', 'D']), // not resolved yet: its own basket
      order('user:eve', 'o-6', ['C', 'D']),
    ]);
    const run = await new AffinityComputation(pool).compute(
      affinityOptionsOrThrow({ minCustomers: 1 }),
      null,
    );
    // N = 5 baskets: ada {A,B}, bob {A,B,C}, cy {A}, dee {C,D}, eve {C,D}
    expect(run.customers).toBe(5);
    const queries = new CrossSellQueries(pool);
    const ab = await queries.affinityOrThrow('A', 10);
    // A→B: n(A∧B) = 2, n(A) = 3, n(B) = 2: confidence 2/3, lift 2·5 / (3·2) = 5/3
    expect(ab.items.find((i) => i.consequent === 'B')).toMatchObject({
      customersBoth: 2,
      confidence: 2 / 3,
      lift: (2 * 5) / (3 * 2),
    });
    await expect(queries.affinityOrThrow('nobody-bought-this', 10)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });

    // Cy bought A: B (lift 5/3) comes before C (A→C: 1·5 / (3·3) = 5/9 < 1, not a candidate)
    const cy = await queries.forCustomerOrThrow('user:cy', 10);
    expect(cy.customerId).toBe('cust-cy');
    expect(cy.bought).toEqual(['A']);
    expect(cy.items.map((i) => [i.productId, i.because.bought])).toEqual([['B', 'A']]);
    // Ada (either key) bought A and B: C is justified by B (B→C lift 1·5/(2·3) = 5/6 < 1): none
    const ada = await queries.forCustomerOrThrow('anonymousId:a-1', 10);
    expect(ada.customerId).toBe('cust-ada');
    expect(ada.bought).toEqual(['A', 'B']);
    expect(ada.items).toEqual([]);
    // Bob bought A, B and C: D, because C (C→D: 2·5 / (3·2) = 5/3), and nothing he has
    const bob = await queries.forCustomerOrThrow('bob', 10);
    expect(bob.items.map((i) => [i.productId, i.because.bought, i.rank])).toEqual([['D', 'C', 1]]);
    expect(bob.items[0]?.lift).toBeCloseTo(5 / 3, 12);
    await expect(queries.forCustomerOrThrow('user:nobody', 10)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });

    // The opt-out hook: a profile that refuses email marketing gets no candidates
    await pool.query(
      `INSERT INTO read_models.customer_profiles
         (customer_id, identifiers, traits, web_events, email_events, phone_events, other_events,
          total_events, orders, net_revenue, currency, consent)
       VALUES ('cust-cy', '{userId:cy}', '{}', 0, 0, 0, 0, 0, 0, 0, 'USD',
               '{"email_marketing": {"value": false, "at": "2026-05-02T00:00:00.000Z"}}')`,
    );
    const optedOut = await queries.forCustomerOrThrow('cust-cy', 10);
    expect(optedOut).toMatchObject({ excluded: 'marketing-opt-out', items: [] });
    const all = await queries.candidates(null, 100, null);
    expect(all.items.map((i) => i.customerId)).not.toContain('cust-cy');
  });
});
