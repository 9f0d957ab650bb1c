import type { RecordedEvent } from '@touchline/event-store';
import { compileRulesOrThrow, DEFAULT_IDENTITY_RULES } from '@touchline/identity';
import {
  type ChurnConfig,
  DEFAULT_CHURN_CONFIG,
  probabilityAlive,
} from '@touchline/customer-value';
import { createPool } from '@touchline/platform';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool } from 'pg';
import pino from 'pino';
import { CustomerProfileProjection } from '../profiles/customer-profile.projection';
import { applyBatchWithCheckpoint } from '../projector/projector';
import { migratedPool } from '../testing/migrated-pool';
import { parseFxTable } from '../value/domain/fx';
import { ChurnEvaluator, type ChurnEvaluationDto } from './churn-evaluator';
import { churnMigrationSet } from './churn.migrations';
import { ChurnQueries } from './churn-queries';
import { parseAsOfOrThrow } from './churn-requests';

const logger = pino({ level: 'silent' });
const DAY = 86_400_000;
const projection = new CustomerProfileProjection(
  compileRulesOrThrow(DEFAULT_IDENTITY_RULES),
  parseFxTable('USD', undefined),
);

let position = 0n;
function event(
  type: string,
  channel: string,
  occurredAt: string,
  data: Record<string, unknown>,
): RecordedEvent {
  position += 1n;
  return {
    eventId: `churn-ev-${String(position)}`,
    type,
    data,
    schemaVersion: 1,
    streamId: `test:${String(position)}`,
    streamVersion: 0,
    globalPosition: position,
    transactionId: 1n,
    metadata: { channel, occurredAt },
    recordedAt: new Date(occurredAt),
  };
}

const page = (userId: string, at: string) =>
  event('WebPageViewed', 'web', at, {
    userId,
    anonymousId: null,
    name: 'Home',
    properties: {},
    context: {},
  });
const email = (type: string, recipient: string, at: string, extra: Record<string, unknown> = {}) =>
  event(type, 'email', at, { provider: 'sendgrid', recipient, tags: [], ...extra });
const contact = (type: string, customerEmail: string, at: string, extra: Record<string, unknown>) =>
  event(type, 'other', at, { contactId: `c-${String(position)}`, customerEmail, ...extra });
const missedCall = (customerPhone: string, at: string, direction: string) =>
  event('CallMissed', 'phone', at, {
    provider: 'contact-centre',
    callId: `call-${String(position)}`,
    direction,
    customerPhone,
    ivrPath: [],
    reason: 'no-answer',
  });
const order = (userId: string, at: string) =>
  event('OrderCompleted', 'web', at, {
    userId,
    anonymousId: null,
    orderId: `o-${String(position)}`,
    revenue: '10',
    currency: 'USD',
    products: [],
    properties: {},
    context: {},
  });

const iso = (day: number, hour = 10) => new Date(day * DAY + hour * 3_600_000).toISOString();
const dayOf = (text: string) => Math.floor(Date.parse(`${text}T00:00:00Z`) / DAY);

/** CDNOW's BG/NBD parameters, weekly units. */
const FIT = { r: 0.2426, alpha: 4.4136, a: 0.7929, b: 2.4259 };

describe.each(testDatabaseTargets())('churn evaluation on real tables ($name)', (target) => {
  let database: TestDatabase;
  let pool: Pool;
  let queries: ChurnQueries;
  const customerOf = new Map<string, string>();

  /** Stored and projected as the recorder and projector would; orders also as the value projection would. */
  async function record(events: RecordedEvent[]): Promise<void> {
    await pool.query(
      `INSERT INTO event_store.events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
       SELECT s, 0, id, t, 1, d::jsonb, m::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS e(s, id, t, d, m)`,
      [
        events.map((e) => e.streamId),
        events.map((e) => e.eventId),
        events.map((e) => e.type),
        events.map((e) => JSON.stringify(e.data)),
        events.map((e) => JSON.stringify(e.metadata)),
      ],
    );
    const last = events[events.length - 1]!;
    await applyBatchWithCheckpoint(pool, projection, events, {
      transactionId: last.transactionId,
      position: last.globalPosition,
    });
    for (const e of events.filter((e) => e.type === 'OrderCompleted')) {
      await pool.query(
        `INSERT INTO read_models.customer_orders (customer_key, order_id, event_id, occurred_at, currency, original_amount, base_amount)
         VALUES ($1, $2, $3, $4, 'USD', 10, 10)`,
        [
          `user:${String(e.data['userId'])}`,
          e.data['orderId'],
          e.eventId,
          e.metadata['occurredAt'],
        ],
      );
    }
  }

  async function customerIdOf(identifier: string): Promise<string> {
    const known = customerOf.get(identifier);
    if (known) return known;
    const rows = await pool.query<{ customer_id: string }>(
      'SELECT customer_id FROM read_models.customer_identifiers WHERE identifier = $1',
      [identifier],
    );
    const id = rows.rows[0]?.customer_id;
    if (!id) throw new Error(`no customer for ${identifier}`);
    customerOf.set(identifier, id);
    return id;
  }

  async function evaluate(
    asOf: string,
    options: { config?: ChurnConfig; batchSize?: number } = {},
  ): Promise<ChurnEvaluationDto> {
    const evaluator = new ChurnEvaluator(pool, logger, () => new Date(), options.batchSize ?? 3);
    const { done } = await evaluator.start({
      asOf: parseAsOfOrThrow(asOf),
      config: options.config ?? DEFAULT_CHURN_CONFIG,
      trigger: 'api',
      requestedBy: null,
    });
    return done;
  }

  /** Current flags by identifier of the customer, as reason code lists. */
  async function flagsBy(identifiers: string[]): Promise<Record<string, string[]>> {
    const result: Record<string, string[]> = {};
    for (const identifier of identifiers) {
      const rows = await pool.query<{ reason_codes: string[] }>(
        'SELECT reason_codes FROM read_models.churn_flags WHERE customer_id = $1',
        [await customerIdOf(identifier)],
      );
      result[identifier] = rows.rows[0]?.reason_codes ?? [];
    }
    return result;
  }

  const dump = async () => ({
    flags: (
      await pool.query<{ row: string }>(
        'SELECT (customer_id, reason_codes, reasons, risk, since, as_of, evaluation_id)::text AS row FROM read_models.churn_flags ORDER BY customer_id',
      )
    ).rows.map((r) => r.row),
    history: (
      await pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM read_models.churn_flag_events',
      )
    ).rows[0]?.n,
  });

  const people = [
    'userId:ada',
    'email:bob@example.com',
    'email:cy@example.com',
    'email:dee@example.com',
    'phone:+14155550123',
    'userId:fay',
    'userId:gus',
    'userId:hal',
  ];

  beforeAll(async () => {
    database = await target.create();
    pool = await migratedPool(database, [churnMigrationSet]);
    queries = new ChurnQueries(pool);

    const events: RecordedEvent[] = [];
    // ada: weekly from 2026-01-05 to 2026-04-27, then silent.
    for (let i = 0; i < 17; i += 1) events.push(page('ada', iso(dayOf('2026-01-05') + 7 * i)));
    // hal: every 3 days up to 2026-06-13: a regular customer, never flagged.
    for (let d = dayOf('2026-03-01'); d <= dayOf('2026-06-13'); d += 3)
      events.push(page('hal', iso(d)));
    // bob unsubscribed from everything.
    events.push(email('EmailOpened', 'bob@example.com', '2026-01-20T08:00:00Z'));
    events.push(
      email('EmailUnsubscribed', 'bob@example.com', '2026-02-10T08:00:00Z', {
        scope: 'all',
        listId: null,
      }),
    );
    // cy: two hard bounces and a soft one in the last 90 days, an old hard one before.
    events.push(
      email('EmailBounced', 'cy@example.com', '2025-12-01T08:00:00Z', { bounceType: 'hard' }),
    );
    events.push(
      email('EmailBounced', 'cy@example.com', '2026-05-01T08:00:00Z', { bounceType: 'soft' }),
    );
    events.push(
      email('EmailBounced', 'cy@example.com', '2026-05-02T08:00:00Z', { bounceType: 'hard' }),
    );
    events.push(
      email('EmailBounced', 'cy@example.com', '2026-06-01T08:00:00Z', { bounceType: 'hard' }),
    );
    // dee: T-1 open since 2026-06-01; T-2 opened and resolved; T-3 resolved with a complaint.
    events.push(
      contact('SupportTicketOpened', 'dee@example.com', '2026-06-01T09:00:00Z', {
        ticketId: 'T-1',
      }),
    );
    events.push(
      contact('SupportTicketOpened', 'dee@example.com', '2026-05-01T09:00:00Z', {
        ticketId: 'T-2',
      }),
    );
    events.push(
      contact('SupportTicketResolved', 'dee@example.com', '2026-05-03T09:00:00Z', {
        ticketId: 'T-2',
        outcome: 'resolved',
      }),
    );
    events.push(
      contact('SupportTicketResolved', 'dee@example.com', '2026-05-20T09:00:00Z', {
        ticketId: 'T-3',
        outcome: 'Customer complained, refund given',
      }),
    );
    // eve (a phone number): three missed calls in June.
    for (const day of ['2026-06-02', '2026-06-05', '2026-06-09'])
      events.push(missedCall('+14155550123', `${day}T15:00:00Z`, 'inbound'));
    // fay: 8 visits from 2026-04-17 to 2026-05-15, then one on 2026-05-20.
    for (let i = 0; i < 8; i += 1) events.push(page('fay', iso(dayOf('2026-04-17') + 4 * i)));
    events.push(page('fay', iso(dayOf('2026-05-20'))));
    // gus: six purchase days in January 2026, nothing since.
    for (const day of [3, 8, 12, 17, 22, 27])
      events.push(order('gus', iso(dayOf('2026-01-01') + day - 1)));
    await record(events);
  }, 120_000);

  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('without a fitted model, says so and flags each customer for what the rules find', async () => {
    const evaluation = await evaluate('2026-06-14');
    expect(evaluation).toMatchObject({
      status: 'completed',
      model: { status: 'not-fitted' },
      customers: { total: 8, evaluated: 8 },
      raised: 7,
      cleared: 0,
      flagged: 7,
    });
    expect(await flagsBy(people)).toEqual({
      'userId:ada': ['overdue-contact'],
      'email:bob@example.com': ['unsubscribed'],
      'email:cy@example.com': ['hard-bounces'],
      'email:dee@example.com': ['complaint', 'unresolved-ticket'],
      'phone:+14155550123': ['missed-calls'],
      'userId:fay': ['overdue-contact', 'falling-visits'],
      'userId:gus': ['overdue-contact'],
      'userId:hal': [],
    });
    const dee = await queries.customerOrThrow(await customerIdOf('email:dee@example.com'), 10);
    expect(dee.flag?.reasons.find((r) => r.code === 'unresolved-ticket')?.message).toBe(
      'ticket T-1 open for 13 days',
    );
    const cy = await queries.customerOrThrow(await customerIdOf('email:cy@example.com'), 10);
    expect(cy.flag?.reasons[0]?.details).toMatchObject({ count: 2, windowDays: 90 });
  });

  it('with a fitted model, flags the buyer who stopped by P(alive) as of the evaluation, naming the fit', async () => {
    await pool.query(
      `INSERT INTO models.clv_fits (id, status, fitted_at, calibration_end, config, currency, customers, orders, bg_nbd, gamma_gamma)
       VALUES ('00000000-0000-4000-8000-00000000c1f7', 'fitted', now(), '2026-03-31', '{"timeUnitDays": 7}', 'USD', 10, 60,
               $1, '{"modelVersion": "gamma-gamma/1.0.0", "parameters": {}}')`,
      [JSON.stringify({ modelVersion: 'bg-nbd/1.0.0', parameters: FIT })],
    );
    const evaluation = await evaluate('2026-06-15');
    expect(evaluation.model).toMatchObject({
      status: 'used',
      fitId: '00000000-0000-4000-8000-00000000c1f7',
    });
    expect(evaluation.raised).toBe(1);
    const gus = await queries.customerOrThrow(await customerIdOf('userId:gus'), 10);
    const reason = gus.flag?.reasons.find((r) => r.code === 'model-p-alive-low');
    const first = dayOf('2026-01-03');
    const expected = probabilityAlive(FIT, {
      x: 5,
      tx: (dayOf('2026-01-27') - first) / 7,
      T: (dayOf('2026-06-15') - first) / 7,
    });
    expect(reason?.details).toMatchObject({
      fitId: '00000000-0000-4000-8000-00000000c1f7',
      modelVersion: 'bg-nbd/1.0.0',
      x: 5,
    });
    expect(reason?.details['pAlive']).toBeCloseTo(expected, 12);
    expect(expected).toBeLessThan(0.3);
    // The earlier reason keeps its start; the new one starts now.
    expect(gus.flag?.since).toBe('2026-06-14T23:59:59.999Z');
    expect(reason?.since).toBe('2026-06-15T23:59:59.999Z');
    expect(gus.history.map((h) => [h.type, h.reasonCodes])).toEqual([
      ['ChurnFlagRaised', ['overdue-contact']],
      ['ChurnFlagRaised', ['model-p-alive-low']],
    ]);
  });

  it('evaluating again as of the same time changes nothing', async () => {
    const before = await dump();
    const again = await evaluate('2026-06-15', { batchSize: 2 });
    expect(again).toMatchObject({ status: 'completed', raised: 0, cleared: 0 });
    expect(await dump()).toEqual(before);
  });

  it('refuses an as-of time before the latest evaluation, and a second evaluation while one runs', async () => {
    await expect(evaluate('2026-06-01')).rejects.toMatchObject({ code: 'CONFLICT' });
    const evaluator = new ChurnEvaluator(pool, logger);
    const request = {
      asOf: parseAsOfOrThrow('2026-06-15'),
      config: DEFAULT_CHURN_CONFIG,
      trigger: 'api' as const,
      requestedBy: null,
    };
    const first = evaluator.start(request);
    await expect(evaluator.start(request)).rejects.toMatchObject({ code: 'CONFLICT' });
    await (
      await first
    ).done;
  });

  it('lets one process evaluate at a time (advisory lock; PGlite is one session, so PostgreSQL only)', async () => {
    if (!target.interleavesTransactions) return;
    const request = {
      asOf: parseAsOfOrThrow('2026-06-15'),
      config: DEFAULT_CHURN_CONFIG,
      trigger: 'api' as const,
      requestedBy: null,
    };
    const first = await new ChurnEvaluator(pool, logger).start(request);
    await expect(new ChurnEvaluator(pool, logger).start(request)).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('Another process') as unknown,
    });
    await first.done;

    // Once one has finished, the next may start at once: the lock is given back before `done`
    // settles, even when giving it back is slow (here: 200 ms more on the way to the server).
    const slowPool = createPool(database.url);
    slowPool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) =>
        typeof args[0] === 'string' && args[0].includes('pg_advisory_unlock')
          ? new Promise((resolve) => setTimeout(resolve, 200)).then(() => query(...args))
          : query(...args);
    });
    try {
      const evaluator = new ChurnEvaluator(slowPool, logger);
      await (
        await evaluator.start(request)
      ).done;
      await (
        await evaluator.start(request)
      ).done;
    } finally {
      await slowPool.end();
    }
  });

  it('clears a flag when the customer comes back, and the clear is in the history', async () => {
    await record([page('ada', '2026-06-20T10:00:00Z')]);
    const evaluation = await evaluate('2026-06-21');
    expect(evaluation.cleared).toBeGreaterThanOrEqual(1);
    expect((await flagsBy(['userId:ada']))['userId:ada']).toEqual([]);
    const ada = await queries.customerOrThrow(await customerIdOf('userId:ada'), 10);
    expect(ada.flagged).toBe(false);
    expect(ada.history.map((h) => [h.type, h.reasonCodes, h.asOf])).toEqual([
      ['ChurnFlagRaised', ['overdue-contact'], '2026-06-14T23:59:59.999Z'],
      ['ChurnFlagCleared', ['overdue-contact'], '2026-06-21T23:59:59.999Z'],
    ]);
    expect(ada.history[1]?.details).toMatchObject({
      'overdue-contact': { because: 'condition-cleared', since: '2026-06-14T23:59:59.999Z' },
    });
  });

  it('clears rules that no longer run, and customers that no longer exist', async () => {
    const noModel = await evaluate('2026-06-21', {
      config: { ...DEFAULT_CHURN_CONFIG, 'model-p-alive-low': { enabled: false, threshold: 0.3 } },
    });
    expect(noModel.model.status).toBe('disabled');
    const gus = await queries.customerOrThrow(await customerIdOf('userId:gus'), 10);
    expect(gus.history[gus.history.length - 1]).toMatchObject({
      type: 'ChurnFlagCleared',
      reasonCodes: ['model-p-alive-low'],
      details: { 'model-p-alive-low': { because: 'rule-not-evaluated' } },
    });

    // As the profile projection does when a customer is merged into another.
    const bob = await customerIdOf('email:bob@example.com');
    await pool.query('DELETE FROM read_models.customer_profiles WHERE customer_id = $1', [bob]);
    await evaluate('2026-06-21');
    const gone = await queries.customerOrThrow(bob, 10);
    expect(gone.flagged).toBe(false);
    expect(gone.history[gone.history.length - 1]).toMatchObject({
      type: 'ChurnFlagCleared',
      details: { unsubscribed: { because: 'customer-gone' } },
    });
    await expect(
      pool.query('DELETE FROM read_models.churn_flag_events WHERE customer_id = $1', [bob]),
    ).rejects.toThrow(/append-only/);
  });

  it('gives the same flags whatever the batch size', async () => {
    const flagsAfter = async (batchSize: number) => {
      await pool.query(
        'TRUNCATE read_models.churn_flags, read_models.churn_flag_events, read_models.churn_evaluations',
      );
      await evaluate('2026-06-21', { batchSize });
      return (
        await pool.query<{ row: string }>(
          'SELECT (customer_id, reason_codes, reasons, risk, since)::text AS row FROM read_models.churn_flags ORDER BY customer_id',
        )
      ).rows.map((r) => r.row);
    };
    const one = await flagsAfter(1);
    expect(one.length).toBeGreaterThan(3);
    expect(await flagsAfter(1_000)).toEqual(one);
  });
});
