import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { startEmbeddedTouchline, type EmbeddedTouchline } from './support/embedded-touchline';
import { basicAuth, eventually, REPO_ROOT } from './support/server-process';

const run = promisify(execFile);

interface Candidate {
  customerId: string;
  productId: string;
  rank: number;
  lift: number;
  confidence: number;
  support: number;
  because: { bought: string; lift: number; confidence: number };
}
interface CustomerCrossSell {
  customerId: string;
  excluded: string | null;
  bought: string[];
  items: Candidate[];
}
interface AffinityAnswer {
  product: string;
  computation: { runId: string } | null;
  items: {
    consequent: string;
    lift: number;
    confidence: number;
    support: number;
    customersBoth: number;
  }[];
}

/*
 * Six customers, sent as Segment "Order Completed" calls (and one "Order Refunded"):
 *   u1: phone case | charger      u2: phone case charger      u3: phone case      u4: phone
 *   u5: laptop bag                u6: laptop bag mouse | phone (that order refunded whole)
 * After the refund, N = 6 customers; n(phone) = 4, n(case) = 3, n(charger) = 2, n(laptop) = 2,
 * n(bag) = 2, n(mouse) = 1. Pairs bought by at least 2 customers:
 *   phone/case 3, phone/charger 2, case/charger 2, laptop/bag 2.
 * By hand (lift = n(A∧B)·N / (n(A)·n(B))):
 *   phone→case    support 3/6  confidence 3/4  lift 3·6/(4·3) = 1.5
 *   case→phone    support 3/6  confidence 1    lift 1.5
 *   phone→charger support 2/6  confidence 2/4  lift 2·6/(4·2) = 1.5
 *   case→charger  support 2/6  confidence 2/3  lift 2·6/(3·2) = 2
 *   laptop→bag    support 2/6  confidence 1    lift 2·6/(2·2) = 3
 * Had the refund been ignored, n(phone) would be 5 and phone→case's lift 3·6/(5·3) = 1.2.
 */
const ORDERS: Record<string, string[][]> = {
  u1: [['phone', 'case'], ['charger']],
  u2: [['phone', 'case', 'charger']],
  u3: [['phone', 'case']],
  u4: [['phone']],
  u5: [['laptop', 'bag']],
  u6: [['laptop', 'bag', 'mouse'], ['phone']],
};

describe('cross-sell: product affinity and candidates through the real server', () => {
  let touchline: EmbeddedTouchline;
  let analystKey: string;
  const suffix = randomUUID().slice(0, 8);
  const userId = (name: string) => `${name}-${suffix}`;

  const get = (route: string, key: string | null = analystKey) =>
    fetch(`${touchline.server.url}${route}`, {
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
    });
  const json = async <T>(route: string): Promise<T> => {
    const response = await get(route);
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  };
  const compute = (body: unknown, key = touchline.apiKey) =>
    fetch(`${touchline.server.url}/v1/admin/cross-sell/compute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(process.execPath, [
      path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
      '--url',
      touchline.server.url,
      '--key',
      touchline.apiKey,
      ...args,
    ]);
    return stdout;
  };
  const expectBadRequest = async (response: Response, naming: string) => {
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INVALID_REQUEST');
    expect(body.error.message).toContain(naming);
  };

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('cross-sell');
    const key = await fetch(`${touchline.server.url}/v1/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${touchline.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'analyst', label: 'cross-sell e2e' }),
    });
    expect(key.status).toBe(201);
    analystKey = ((await key.json()) as { key: string }).key;

    const batch: Record<string, unknown>[] = [];
    let day = 1;
    for (const [name, orders] of Object.entries(ORDERS)) {
      orders.forEach((products, i) => {
        batch.push({
          type: 'track',
          event: 'Order Completed',
          userId: userId(name),
          messageId: randomUUID(),
          timestamp: `2026-04-${String(day++).padStart(2, '0')}T10:00:00.000Z`,
          properties: {
            order_id: `${name}-o${i + 1}`,
            currency: 'USD',
            products: products.map((product_id) => ({ product_id, price: '10.00', quantity: 1 })),
          },
        });
      });
    }
    // u6 returns the whole phone order: no amount, no products.
    batch.push({
      type: 'track',
      event: 'Order Refunded',
      userId: userId('u6'),
      messageId: randomUUID(),
      timestamp: '2026-04-20T10:00:00.000Z',
      properties: { order_id: 'u6-o2', currency: 'USD' },
    });
    const sent = await fetch(`${touchline.server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(touchline.writeKey) },
      body: JSON.stringify({ batch }),
    });
    expect(sent.status).toBe(200);

    // Wait for both projections: products per customer key, and identity resolution.
    await eventually(async () => {
      const products = await touchline.sql.query<{ n: number; phones: number }>(
        `SELECT count(*)::int AS n,
                count(*) FILTER (WHERE customer_key = $1 AND product_id = 'phone')::int AS phones
           FROM read_models.customer_products WHERE customer_key LIKE $2`,
        [`user:${userId('u6')}`, `user:%-${suffix}`],
      );
      const identities = await touchline.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM read_models.customer_identifiers WHERE identifier LIKE $1`,
        [`userId:%-${suffix}`],
      );
      const p = products.rows[0];
      return p?.n === 14 && p.phones === 0 && identities.rows[0]?.n === 6 ? true : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    await touchline?.stop();
  });

  it('computes affinity with the CLI (admin, audited) and serves the hand-computed values', async () => {
    const computed = JSON.parse(await cli('cross-sell', 'compute', '--json')) as {
      runId: string;
      customers: number;
      products: number;
      pairs: number;
      rules: number;
    };
    expect(computed).toMatchObject({ customers: 6, products: 6, pairs: 4, rules: 8 });

    const phone = await json<AffinityAnswer>('/v1/cross-sell/affinity?product=phone');
    expect(phone.computation?.runId).toBe(computed.runId);
    expect(phone.items.map((i) => i.consequent)).toEqual(['case', 'charger']);
    const [phoneCase, phoneCharger] = phone.items;
    expect(phoneCase).toMatchObject({ customersBoth: 3, support: 0.5, confidence: 0.75 });
    expect(phoneCase?.lift).toBeCloseTo(1.5, 12);
    expect(phoneCharger).toMatchObject({ customersBoth: 2, confidence: 0.5 });
    expect(phoneCharger?.support).toBeCloseTo(1 / 3, 12);
    expect(phoneCharger?.lift).toBeCloseTo(1.5, 12);

    const kase = await json<AffinityAnswer>('/v1/cross-sell/affinity?product=case');
    expect(kase.items.map((i) => [i.consequent, i.confidence])).toEqual([
      ['charger', 2 / 3],
      ['phone', 1],
    ]);
    expect(kase.items[0]?.lift).toBeCloseTo(2, 12);
    const laptop = await json<AffinityAnswer>('/v1/cross-sell/affinity?product=laptop');
    expect(laptop.items).toHaveLength(1);
    expect(laptop.items[0]).toMatchObject({ consequent: 'bag', confidence: 1 });
    expect(laptop.items[0]?.lift).toBeCloseTo(3, 12);
    // mouse was bought by one customer only: known, but below the minimum of 2
    expect((await json<AffinityAnswer>('/v1/cross-sell/affinity?product=mouse')).items).toEqual([]);

    const audit = (await (await get('/v1/admin/audit?limit=20', touchline.apiKey)).json()) as {
      items: { action: string; target: string; outcome: string }[];
    };
    expect(audit.items).toContainEqual(
      expect.objectContaining({
        action: 'cross-sell.compute',
        target: computed.runId,
        outcome: 'done',
      }),
    );
  });

  it("lists a customer's products not bought, each with the rule behind it", async () => {
    // u4 bought a phone: a case (lift 1.5, confidence 3/4) before a charger (lift 1.5, 1/2)
    const u4 = await json<CustomerCrossSell>(`/v1/customers/${userId('u4')}/cross-sell`);
    expect(u4.bought).toEqual(['phone']);
    expect(u4.items.map((i) => [i.rank, i.productId, i.because.bought])).toEqual([
      [1, 'case', 'phone'],
      [2, 'charger', 'phone'],
    ]);
    expect(u4.items[0]?.confidence).toBe(0.75);
    const printed = await cli('cross-sell', 'customer', `user:${userId('u4')}`);
    expect(printed).toContain('bought: phone');
    expect(printed).toContain('1. case: bought phone: 75 % of its buyers also bought case');
    // u3 bought a phone and a case: only the charger, justified by the case (lift 2 > 1.5)
    const u3 = await json<CustomerCrossSell>(
      `/v1/customers/${encodeURIComponent(`user:${userId('u3')}`)}/cross-sell`,
    );
    expect(u3.bought).toEqual(['case', 'phone']);
    expect(u3.items).toHaveLength(1);
    expect(u3.items[0]).toMatchObject({ productId: 'charger', because: { bought: 'case' } });
    expect(u3.items[0]?.lift).toBeCloseTo(2, 12);
    // The unified customer id answers the same; u2 has everything they relate to: nothing
    expect(
      (await json<CustomerCrossSell>(`/v1/customers/${u3.customerId}/cross-sell`)).items,
    ).toEqual(u3.items);
    expect(
      (await json<CustomerCrossSell>(`/v1/customers/${userId('u2')}/cross-sell`)).items,
    ).toEqual([]);
    // u6's refunded phone is not a purchase: no phone accessory for them
    const u6 = await json<CustomerCrossSell>(`/v1/customers/${userId('u6')}/cross-sell`);
    expect(u6.bought).toEqual(['bag', 'laptop', 'mouse']);
    expect(u6.items).toEqual([]);
  });

  it('ranks the best candidates across customers, page by page, never a product they have', async () => {
    const first = await json<{ items: Candidate[]; nextCursor: string | null }>(
      '/v1/cross-sell/candidates?limit=1',
    );
    expect(first.items.map((i) => [i.customerId, i.productId])).toHaveLength(1);
    expect(first.items[0]).toMatchObject({ productId: 'charger', because: { bought: 'case' } });
    expect(first.nextCursor).not.toBeNull();
    const second = await json<{ items: Candidate[]; nextCursor: string | null }>(
      `/v1/cross-sell/candidates?limit=1&cursor=${first.nextCursor ?? ''}`,
    );
    expect(second.items[0]).toMatchObject({ productId: 'case', because: { bought: 'phone' } });
    expect(second.nextCursor).toBeNull();

    const u3 = await json<CustomerCrossSell>(`/v1/customers/${userId('u3')}/cross-sell`);
    const u4 = await json<CustomerCrossSell>(`/v1/customers/${userId('u4')}/cross-sell`);
    expect([first.items[0]?.customerId, second.items[0]?.customerId]).toEqual([
      u3.customerId,
      u4.customerId,
    ]);
    // For one product: who should get a charger
    const chargers = await json<{ items: Candidate[] }>(
      '/v1/cross-sell/candidates?product=charger',
    );
    expect(chargers.items.map((i) => i.customerId)).toEqual([u3.customerId, u4.customerId]);
    for (const [customer, candidates] of [
      [u3, [...first.items, ...chargers.items]],
      [u4, [...second.items, ...chargers.items]],
    ] as const) {
      for (const c of candidates.filter((x) => x.customerId === customer.customerId))
        expect(customer.bought).not.toContain(c.productId);
    }
  });

  it('rebuilds customer_products from the event store to the same candidates', async () => {
    const before = await json<CustomerCrossSell>(`/v1/customers/${userId('u4')}/cross-sell`);
    await cli('projections', 'rebuild', 'customer_products');
    const after = await eventually(async () => {
      const answer = await json<CustomerCrossSell>(`/v1/customers/${userId('u4')}/cross-sell`);
      return answer.items.length > 0 ? answer : undefined;
    });
    expect(after).toEqual(before);
    const rows = await touchline.sql.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM read_models.customer_products WHERE customer_key LIKE $1',
      [`user:%-${suffix}`],
    );
    expect(rows.rows[0]?.n).toBe(14);
  });

  it('answers 400 naming a malformed parameter, 404 for what it does not know', async () => {
    await expectBadRequest(await get('/v1/cross-sell/affinity'), 'product');
    await expectBadRequest(await get('/v1/cross-sell/affinity?product=phone&limit=0'), 'limit');
    await expectBadRequest(await get('/v1/cross-sell/affinity?product=phone&top=3'), 'top');
    await expectBadRequest(await get('/v1/cross-sell/candidates?limit=abc'), 'limit');
    await expectBadRequest(await get('/v1/cross-sell/candidates?cursor=not*a*cursor'), 'cursor');
    await expectBadRequest(
      await get(`/v1/cross-sell/candidates?cursor=${Buffer.from('{"l":1}').toString('base64url')}`),
      'cursor',
    );
    await expectBadRequest(
      await get(`/v1/customers/${userId('u4')}/cross-sell?limit=101`),
      'limit',
    );
    await expectBadRequest(await compute({ minCustomers: 0 }), 'minCustomers');
    await expectBadRequest(await compute({ minSupport: 'high' }), 'minSupport');
    await expectBadRequest(await compute({ minLift: 2 }), 'minLift');

    expect((await get('/v1/cross-sell/affinity?product=no-such-product')).status).toBe(404);
    expect((await get(`/v1/customers/${userId('nobody')}/cross-sell`)).status).toBe(404);
    expect((await get('/v1/cross-sell/candidates', null)).status).toBe(401);
    expect((await compute({}, analystKey)).status).toBe(403);
  });
});
