import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool } from 'pg';
import { churnMigrationSet } from '../churn/churn.migrations';
import { crossSellMigrationSet } from '../cross-sell/cross-sell.migrations';
import { migratedPool } from '../testing/migrated-pool';
import {
  decodePageCursorOrThrow,
  type PageAfter,
  ProspectRiskQueries,
} from './prospect-risk-queries';
import { valueQuestionsMigrationSet } from './value-questions.migrations';

const NOW = new Date('2026-06-30T12:00:00.000Z');
const HOUR = 3_600_000;
const ago = (hours: number) => new Date(NOW.getTime() - hours * HOUR);

interface Customer {
  id: string;
  identifier: string;
  events: { web?: number; email?: number; phone?: number; other?: number };
  orders: number;
  netRevenue: string;
  lastSeenHoursAgo: number;
  clicks?: number;
  consent?: unknown;
}

describe.each(testDatabaseTargets())('prospects and risks on real tables ($name)', (target) => {
  let database: TestDatabase;
  let pool: Pool;
  let queries: ProspectRiskQueries;

  const customers: Customer[] = [
    // 10 events on 2 channels, 3 clicks, seen 2 hours ago.
    {
      id: 'c-lead',
      identifier: 'userId:lead',
      events: { web: 7, email: 3 },
      orders: 0,
      netRevenue: '0',
      lastSeenHoursAgo: 2,
      clicks: 3,
    },
    // One order, 3 events, 60 days ago: fades to a quarter.
    {
      id: 'c-once',
      identifier: 'userId:once',
      events: { web: 3 },
      orders: 1,
      netRevenue: '40',
      lastSeenHoursAgo: 60 * 24,
    },
    // A contact only known from an imported meeting.
    {
      id: 'c-contact',
      identifier: 'email:met@example.com',
      events: { other: 1 },
      orders: 0,
      netRevenue: '0',
      lastSeenHoursAgo: 24,
    },
    // Not prospects: two orders; flagged; opted out.
    {
      id: 'c-twice',
      identifier: 'userId:twice',
      events: { web: 9 },
      orders: 2,
      netRevenue: '300',
      lastSeenHoursAgo: 1,
    },
    {
      id: 'c-flagged',
      identifier: 'userId:flagged',
      events: { web: 20 },
      orders: 1,
      netRevenue: '500',
      lastSeenHoursAgo: 1,
    },
    {
      id: 'c-optout',
      identifier: 'userId:optout',
      events: { web: 20 },
      orders: 0,
      netRevenue: '0',
      lastSeenHoursAgo: 1,
      consent: { email_marketing: { value: false } },
    },
    // Flagged, with value.
    {
      id: 'c-rich',
      identifier: 'userId:rich',
      events: { web: 5 },
      orders: 5,
      netRevenue: '1000',
      lastSeenHoursAgo: 900,
    },
    {
      id: 'c-new',
      identifier: 'userId:new',
      events: { web: 2 },
      orders: 1,
      netRevenue: '50',
      lastSeenHoursAgo: 900,
    },
  ];
  // risk, and CLV under the latest fit (null: no score).
  const flags: Record<string, { risk: number; clv: number | null }> = {
    'c-twice': { risk: 0.5, clv: 100 },
    'c-flagged': { risk: 0.6, clv: null },
    'c-rich': { risk: 0.2, clv: 400 },
    'c-new': { risk: 0.9, clv: 120 },
  };

  beforeAll(async () => {
    database = await target.create();
    pool = await migratedPool(database, [
      crossSellMigrationSet,
      churnMigrationSet,
      valueQuestionsMigrationSet,
    ]);
    queries = new ProspectRiskQueries(pool, () => NOW);
    for (const c of customers) {
      const e = { web: 0, email: 0, phone: 0, other: 0, ...c.events };
      await pool.query(
        `INSERT INTO read_models.customer_profiles (customer_id, identifiers, traits,
           first_seen_at, last_seen_at, web_events, email_events, phone_events, other_events,
           total_events, orders, net_revenue, currency, consent)
         VALUES ($1, $2, '{}', $3, $3, $4, $5, $6, $7, $8, $9, $10, 'USD', $11)`,
        [
          c.id,
          [c.identifier],
          ago(c.lastSeenHoursAgo),
          e.web,
          e.email,
          e.phone,
          e.other,
          e.web + e.email + e.phone + e.other,
          c.orders,
          c.netRevenue,
          JSON.stringify(c.consent ?? {}),
        ],
      );
      await pool.query(
        `INSERT INTO read_models.customer_identifiers (identifier, kind, customer_id)
         VALUES ($1, split_part($1, ':', 1), $2)`,
        [c.identifier, c.id],
      );
      for (let i = 0; i < (c.clicks ?? 0); i++)
        await pool.query(
          `INSERT INTO read_models.customer_touchpoints (event_id, identifier, occurred_at, channel, type)
           VALUES ($1, $2, $3, 'email', 'EmailLinkClicked')`,
          [`${c.id}-click-${i}`, c.identifier, ago(c.lastSeenHoursAgo + i)],
        );
    }
    // A click older than 90 days does not count.
    await pool.query(
      `INSERT INTO read_models.customer_touchpoints (event_id, identifier, occurred_at, channel, type)
       VALUES ('old-click', 'userId:lead', $1, 'email', 'EmailLinkClicked')`,
      [ago(91 * 24)],
    );
    await pool.query(
      `INSERT INTO models.clv_fits (id, status, fitted_at, calibration_end, config, currency, customers, orders)
       VALUES ('00000000-0000-4000-8000-000000000001', 'fitted', $1, '2026-06-30', '{}', 'USD', 4, 10)`,
      [NOW],
    );
    for (const [id, flag] of Object.entries(flags)) {
      await pool.query(
        `INSERT INTO read_models.churn_flags (customer_id, reason_codes, reasons, risk, since, as_of, evaluation_id)
         VALUES ($1, '{unsubscribed}', '{}', $2, $3, $3, '00000000-0000-4000-8000-000000000002')`,
        [id, flag.risk, NOW],
      );
      const identifier = customers.find((c) => c.id === id)!.identifier;
      if (flag.clv !== null)
        await pool.query(
          `INSERT INTO models.clv_scores (fit_id, customer_key, x, t_x, t_cal, zbar, p_alive,
             expected_purchases, expected_average_order_value, clv)
           VALUES ('00000000-0000-4000-8000-000000000001', $1, 1, 1, 2, 10, 0.5, 1, 10, $2)`,
          [`user:${identifier.slice('userId:'.length)}`, flag.clv],
        );
    }
    // Every migration set on an embedded database takes a while.
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  it('ranks prospects by engagement × 0.5^(days since last seen / 30), leaving out buyers, flags and opt-outs', async () => {
    const page = await queries.prospects(null, 50, null);
    const score = (events: number, clicks: number, channels: number, hoursAgo: number) =>
      (Math.log(1 + events) + Math.log(1 + clicks) + 0.5 * (channels - 1)) *
      0.5 ** (hoursAgo / 24 / 30);
    expect(page.rankedAt).toBe(NOW.toISOString());
    expect(page.items.map((p) => [p['customerId'], p['stage']])).toEqual([
      ['c-lead', 'lead'],
      ['c-contact', 'lead'],
      ['c-once', 'first-order'],
    ]);
    const [lead, contact, once] = page.items.map((p) => p['score'] as number);
    expect(lead).toBeCloseTo(score(10, 3, 2, 2), 12);
    expect(contact).toBeCloseTo(score(1, 0, 1, 24), 12);
    expect(once).toBeCloseTo(score(3, 0, 1, 60 * 24), 12);
    expect((await queries.prospects('first-order', 50, null)).items).toHaveLength(1);
  });

  it('pages prospects as of the first page, whatever the time when the next is asked', async () => {
    const first = await queries.prospects(null, 2, null);
    expect(first.nextCursor).not.toBeNull();
    const later = new ProspectRiskQueries(pool, () => new Date(NOW.getTime() + 40 * 24 * HOUR));
    const second = await later.prospects(null, 2, decodePageCursorOrThrow(first.nextCursor!));
    expect(second.rankedAt).toBe(NOW.toISOString());
    expect([...first.items, ...second.items].map((p) => p['customerId'])).toEqual([
      'c-lead',
      'c-contact',
      'c-once',
    ]);
    expect(second.nextCursor).toBeNull();
  });

  it('ranks risks by CLV × risk (no score last), or by net revenue × risk', async () => {
    const byClv = await queries.risks('clv', 50, null);
    // c-new 120 × 0.9 = 108, c-rich 400 × 0.2 = 80, c-twice 100 × 0.5 = 50, c-flagged no CLV.
    expect(byClv.items.map((r) => [r['customerId'], r['clvAtRisk']])).toEqual([
      ['c-new', 120 * 0.9],
      ['c-rich', 400 * 0.2],
      ['c-twice', 100 * 0.5],
      ['c-flagged', null],
    ]);
    const byRevenue = await queries.risks('netRevenue', 50, null);
    // 1000 × 0.2 = 200, 500 × 0.6 = 300, 300 × 0.5 = 150, 50 × 0.9 = 45.
    expect(byRevenue.items.map((r) => [r['customerId'], r['revenueAtRisk']])).toEqual([
      ['c-flagged', 300],
      ['c-rich', 200],
      ['c-twice', 150],
      ['c-new', 45],
    ]);
    const walked: unknown[] = [];
    let after: PageAfter | null = null;
    for (;;) {
      const page = await queries.risks('clv', 1, after);
      walked.push(...page.items.map((r) => r['customerId']));
      if (page.nextCursor === null) break;
      after = decodePageCursorOrThrow(page.nextCursor);
    }
    expect(walked).toEqual(['c-new', 'c-rich', 'c-twice', 'c-flagged']);
  });
});
