import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createSendGridTestKeys, sendGridSignatureHeaders } from '@touchline/touchpoints/testing';
import { type EmbeddedTouchline, startEmbeddedTouchline } from './support/embedded-touchline';
import { basicAuth, eventually, REPO_ROOT, startServer } from './support/server-process';

const run = promisify(execFile);

interface Evaluation {
  id: string;
  status: string;
  trigger: string;
  asOf: string;
  model: { status: string; message?: string };
  customers: { total: number; evaluated: number };
  raised: number;
  cleared: number;
  flagged: number | null;
}

interface Flag {
  customerId: string;
  risk: number;
  since: string;
  reasonCodes: string[];
  reasons: { code: string; message: string; since: string; details: Record<string, unknown> }[];
}

interface FlagPage {
  items: Flag[];
  nextCursor: string | null;
  evaluation: Evaluation | null;
}

interface CustomerFlags {
  customerId: string;
  flagged: boolean;
  flag: Flag | null;
  history: {
    type: string;
    reasonCodes: string[];
    asOf: string;
    details: Record<string, unknown>;
  }[];
}

const DAY = 86_400_000;
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/**
 * Churn flags through the real server (embedded mode): touchpoints sent over the public HTTP
 * endpoints (Segment batch, signed SendGrid webhook, contact-centre calls, CRM contacts), the
 * profile projection waited for, evaluations through the admin API and the CLI, and the flags
 * and their history read back through the API and from SQL.
 */
describe('churn flags with reasons (embedded mode)', () => {
  const sendgrid = createSendGridTestKeys();
  const tag = randomUUID().slice(0, 8);
  const visitor = `visitor-${tag}`;
  const regular = `regular-${tag}`;
  const leaver = `leaver.${tag}@example.com`;
  const bouncer = `bouncer.${tag}@example.com`;
  const ticketHolder = `tickets.${tag}@example.com`;
  const caller = '+14155550142';
  let touchline: EmbeddedTouchline;
  const writeKeys: Record<string, string> = {};
  let analystKey: string;

  const api = async <T>(
    method: string,
    route: string,
    body?: unknown,
    key: string | null = touchline.apiKey,
  ): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${touchline.server.url}${route}`, {
      method,
      headers: {
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const ok = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const answer = await api<T>(method, route, body);
    if (answer.status !== 200)
      throw new Error(`${method} ${route}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const evaluate = (asOf: string) => ok<Evaluation>('POST', '/v1/admin/churn/evaluate', { asOf });
  const cli = async (...args: string[]) =>
    run(
      process.execPath,
      [
        path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
        '--url',
        touchline.server.url,
        '--key',
        touchline.apiKey,
        ...args,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  const customerIdOf = async (lookup: string): Promise<string> =>
    (await ok<{ customerId: string }>('GET', `/v1/profiles/lookup?${lookup}`)).customerId;
  const flagsOf = (customerId: string) => ok<CustomerFlags>('GET', `/v1/churn/flags/${customerId}`);
  const pages = (userId: string, days: string[]) =>
    days.map((day) => ({
      type: 'page',
      userId,
      name: 'Home',
      messageId: randomUUID(),
      timestamp: `${day}T10:00:00.000Z`,
    }));
  const sendSegment = async (batch: unknown[]) => {
    const response = await fetch(`${touchline.server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(touchline.writeKey) },
      body: JSON.stringify({ batch }),
    });
    expect(response.status).toBe(200);
  };
  /** The timeline of a user id once the profile projection has every one of `events`. */
  const projected = (lookup: string, events: number) =>
    eventually(async () => {
      const response = await api<{ totalEvents: number }>('GET', `/v1/profiles/lookup?${lookup}`);
      return response.status === 200 && response.body.totalEvents >= events ? true : undefined;
    });

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('churn', {
      SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKeyBase64,
    });
    for (const [sourceId, channel] of [
      ['mail', 'email'],
      ['voice', 'phone'],
      ['crm', 'other'],
    ] as const) {
      const created = await api<{ key: string }>('POST', '/v1/admin/sources', {
        sourceId,
        channel,
      });
      expect(created.status).toBe(201);
      writeKeys[sourceId] = created.body.key;
    }
    const analyst = await api<{ key: string }>('POST', '/v1/admin/keys', {
      role: 'analyst',
      label: 'churn e2e',
    });
    expect(analyst.status).toBe(201);
    analystKey = analyst.body.key;

    // A weekly visitor from 2026-01-05 to 2026-04-27 (17 visits), then nothing.
    const weekly = Array.from({ length: 17 }, (_, i) =>
      new Date(Date.parse('2026-01-05T00:00:00Z') + 7 * i * DAY).toISOString().slice(0, 10),
    );
    // A regular who keeps coming every 4 days until 2026-06-14.
    const regularDays: string[] = [];
    for (
      let t = Date.parse('2026-03-02T00:00:00Z');
      t <= Date.parse('2026-06-14T00:00:00Z');
      t += 4 * DAY
    )
      regularDays.push(new Date(t).toISOString().slice(0, 10));
    await sendSegment([...pages(visitor, weekly), ...pages(regular, regularDays)]);

    // Signed SendGrid events: one customer opens then unsubscribes; another bounces hard twice.
    const now = Math.floor(Date.now() / 1000);
    const sendgridEvents = JSON.stringify([
      {
        email: leaver,
        timestamp: seconds('2026-01-20T08:00:00Z'),
        event: 'open',
        sg_event_id: `o-${tag}`,
        sg_message_id: 'm-1',
      },
      {
        email: leaver,
        timestamp: seconds('2026-02-10T08:00:00Z'),
        event: 'unsubscribe',
        sg_event_id: `u-${tag}`,
        sg_message_id: 'm-1',
      },
      {
        email: bouncer,
        timestamp: seconds('2026-04-01T08:00:00Z'),
        event: 'bounce',
        type: 'bounce',
        sg_event_id: `b1-${tag}`,
        sg_message_id: 'm-2',
      },
      {
        email: bouncer,
        timestamp: seconds('2026-04-20T08:00:00Z'),
        event: 'bounce',
        type: 'bounce',
        sg_event_id: `b2-${tag}`,
        sg_message_id: 'm-3',
      },
    ]);
    const webhook = await fetch(`${touchline.server.url}/v1/webhooks/sendgrid/mail`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...sendGridSignatureHeaders(sendgridEvents, now, sendgrid.privateKey),
      },
      body: sendgridEvents,
    });
    expect(webhook.status).toBe(200);
    expect(await webhook.json()).toMatchObject({ accepted: 4, rejected: 0 });

    // Three missed inbound calls in April, from the contact centre.
    const calls = await fetch(`${touchline.server.url}/v1/calls`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: basicAuth(writeKeys['voice']!),
      },
      body: JSON.stringify({
        events: ['2026-04-21', '2026-04-24', '2026-04-28'].map((day, i) => ({
          id: `cc-${tag}-${i}`,
          type: 'call.missed',
          callId: `call-${tag}-${i}`,
          occurredAt: `${day}T15:00:00Z`,
          direction: 'inbound',
          from: caller,
          reason: 'no-answer',
        })),
      }),
    });
    expect(calls.status).toBe(200);
    expect(await calls.json()).toMatchObject({ accepted: 3, rejected: 0 });

    // A support ticket opened on 2026-04-25 and never resolved.
    const ticket = await fetch(`${touchline.server.url}/v1/contacts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKeys['crm']!) },
      body: JSON.stringify({
        contacts: [
          {
            id: `t-${tag}`,
            type: 'support.ticket.opened',
            occurredAt: '2026-04-25T09:00:00Z',
            customer: { email: ticketHolder },
            ticketId: `T-${tag}`,
            subject: 'late delivery',
          },
        ],
      }),
    });
    expect(ticket.status).toBe(200);

    await projected(`userId=${visitor}`, 17);
    await projected(`userId=${regular}`, regularDays.length);
    await projected(`email=${encodeURIComponent(leaver)}`, 2);
    await projected(`email=${encodeURIComponent(bouncer)}`, 2);
    await projected(`phone=${encodeURIComponent(caller)}`, 3);
    await projected(`email=${encodeURIComponent(ticketHolder)}`, 1);
  }, 120_000);

  afterAll(async () => {
    await touchline?.stop();
  });

  it('flags the unsubscribed customer and not yet the visitor who just stopped; says no model is fitted', async () => {
    const evaluation = await evaluate('2026-05-10');
    expect(evaluation).toMatchObject({
      status: 'completed',
      asOf: '2026-05-10T23:59:59.999Z',
      model: { status: 'not-fitted' },
    });
    expect(evaluation.model.message).toContain('No CLV model is fitted');
    expect(evaluation.customers.evaluated).toBe(evaluation.customers.total);

    const leaverFlags = await flagsOf(await customerIdOf(`email=${encodeURIComponent(leaver)}`));
    expect(leaverFlags.flag?.reasonCodes).toEqual(['unsubscribed']);
    expect(leaverFlags.flag?.reasons[0]?.message).toBe('unsubscribed (all) on 2026-02-10');

    const visitorFlags = await flagsOf(await customerIdOf(`userId=${visitor}`));
    expect(visitorFlags.flagged).toBe(false);
    expect(visitorFlags.history).toEqual([]);

    const bouncerFlags = await flagsOf(await customerIdOf(`email=${encodeURIComponent(bouncer)}`));
    expect(bouncerFlags.flag?.reasonCodes).toEqual(['hard-bounces']);
    const callerFlags = await flagsOf(await customerIdOf(`phone=${encodeURIComponent(caller)}`));
    expect(callerFlags.flag?.reasonCodes).toEqual(['missed-calls']);
    const ticketFlags = await flagsOf(
      await customerIdOf(`email=${encodeURIComponent(ticketHolder)}`),
    );
    expect(ticketFlags.flag?.reasons[0]?.message).toBe(`ticket T-${tag} open for 15 days`);
  });

  it('flags the visitor as overdue-contact as of a later date, through the CLI with progress', async () => {
    const { stdout, stderr } = await cli('churn', 'evaluate', '--as-of', '2026-06-15', '--json');
    expect(stderr).toMatch(/churn \[[#-]{24}\] +100\.0% {2}\d+\/\d+ customers/);
    const evaluation = JSON.parse(stdout) as Evaluation;
    expect(evaluation).toMatchObject({ status: 'completed', asOf: '2026-06-15T23:59:59.999Z' });

    const visitorId = await customerIdOf(`userId=${visitor}`);
    const flags = await flagsOf(visitorId);
    expect(flags.flag?.reasonCodes).toEqual(['overdue-contact']);
    expect(flags.flag?.reasons[0]?.details).toMatchObject({
      lastContactDay: '2026-04-27',
      daysSinceLastContact: 49,
      usualGapDays: 7,
      statistic: 'median',
    });
    expect(flags.history).toMatchObject([
      {
        type: 'ChurnFlagRaised',
        reasonCodes: ['overdue-contact'],
        asOf: '2026-06-15T23:59:59.999Z',
      },
    ]);
    const regularFlags = await flagsOf(await customerIdOf(`userId=${regular}`));
    expect(regularFlags.flagged).toBe(false);

    const listed = await cli('churn', 'list', '--reason', 'overdue-contact');
    expect(listed.stdout).toContain(visitorId);
    expect(listed.stdout).not.toContain(await customerIdOf(`email=${encodeURIComponent(leaver)}`));
    const shown = await cli('churn', 'show', visitorId);
    expect(shown.stdout).toContain('overdue-contact: no contact for 49 days');
  });

  it('lists who is most likely to leave by risk, filtered by reason, in stable pages', async () => {
    const all = await ok<FlagPage>('GET', '/v1/churn/flags?limit=500');
    expect(all.items.length).toBeGreaterThanOrEqual(4);
    expect(all.evaluation?.asOf).toBe('2026-06-15T23:59:59.999Z');
    const risks = all.items.map((f) => f.risk);
    expect(risks).toEqual([...risks].sort((a, b) => b - a));
    // The unsubscribed customer (weight 0.6) ranks above the hard bounces (0.3).
    const rank = (email: string) =>
      customerIdOf(`email=${encodeURIComponent(email)}`).then((id) =>
        all.items.findIndex((f) => f.customerId === id),
      );
    expect(await rank(leaver)).toBeLessThan(await rank(bouncer));

    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const route: string = `/v1/churn/flags?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page: FlagPage = await ok<FlagPage>('GET', route);
      walked.push(...page.items.map((f) => f.customerId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(walked).toEqual(all.items.map((f) => f.customerId));

    const bySince = await ok<FlagPage>(
      'GET',
      '/v1/churn/flags?sort=since&reason=unsubscribed,hard-bounces',
    );
    expect(
      bySince.items.every((f) =>
        f.reasonCodes.some((c) => c === 'unsubscribed' || c === 'hard-bounces'),
      ),
    ).toBe(true);
    const since = bySince.items.map((f) => f.since);
    expect(since).toEqual([...since].sort());

    // The same flags answer from SQL.
    const sql = await touchline.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM read_models.churn_flags WHERE 'overdue-contact' = ANY(reason_codes)`,
    );
    expect(sql.rows[0]?.n).toBe(
      all.items.filter((f) => f.reasonCodes.includes('overdue-contact')).length,
    );
  });

  it('evaluating again as of the same date changes nothing', async () => {
    const snapshot = async () => ({
      flags: (
        await touchline.sql.query<{ row: string }>(
          'SELECT f::text AS row FROM read_models.churn_flags f ORDER BY customer_id',
        )
      ).rows.map((r) => r.row),
      history: (
        await touchline.sql.query<{ row: string }>(
          'SELECT h::text AS row FROM read_models.churn_flag_events h ORDER BY id',
        )
      ).rows.map((r) => r.row),
    });
    const before = await snapshot();
    expect(before.history.length).toBeGreaterThanOrEqual(5);
    const again = await evaluate('2026-06-15');
    expect(again).toMatchObject({ status: 'completed', raised: 0, cleared: 0 });
    expect(await snapshot()).toEqual(before);
  });

  it('clears the flag when the visitor comes back, and the clear is in the history', async () => {
    await sendSegment(pages(visitor, ['2026-07-01']));
    await projected(`userId=${visitor}`, 18);
    const evaluation = await evaluate('2026-07-02');
    expect(evaluation.cleared).toBeGreaterThanOrEqual(1);

    const visitorId = await customerIdOf(`userId=${visitor}`);
    const flags = await flagsOf(visitorId);
    expect(flags.flagged).toBe(false);
    expect(flags.history.map((h) => [h.type, h.reasonCodes, h.asOf])).toEqual([
      ['ChurnFlagRaised', ['overdue-contact'], '2026-06-15T23:59:59.999Z'],
      ['ChurnFlagCleared', ['overdue-contact'], '2026-07-02T23:59:59.999Z'],
    ]);
    expect(flags.history[1]?.details).toMatchObject({
      'overdue-contact': { because: 'condition-cleared' },
    });
    const history = await touchline.sql.query<{ event_type: string; as_of: Date }>(
      'SELECT event_type, as_of FROM read_models.churn_flag_events WHERE customer_id = $1 ORDER BY id',
      [visitorId],
    );
    expect(history.rows.map((r) => r.event_type)).toEqual(['ChurnFlagRaised', 'ChurnFlagCleared']);
  });

  it('answers malformed parameters with a 400 naming them, unknown customers with 404, and checks roles', async () => {
    const expectError = async (
      method: string,
      route: string,
      body: unknown,
      status: number,
      mention: string,
      key: string | null = touchline.apiKey,
    ) => {
      const answer = await api<{ error: { message: string } }>(method, route, body, key);
      expect(answer.status).toBe(status);
      expect(answer.body.error.message).toContain(mention);
    };
    await expectError('GET', '/v1/churn/flags?sort=name', undefined, 400, 'sort');
    await expectError('GET', '/v1/churn/flags?reason=bored', undefined, 400, 'reason');
    await expectError('GET', '/v1/churn/flags?limit=0', undefined, 400, 'limit');
    await expectError('GET', '/v1/churn/flags?cursor=bm9wZQ', undefined, 400, 'cursor');
    await expectError('GET', '/v1/churn/flags?colour=red', undefined, 400, 'colour');
    await expectError('GET', '/v1/churn/flags/not-a-uuid', undefined, 400, 'customerId');
    await expectError('GET', `/v1/churn/flags/${randomUUID()}`, undefined, 404, 'No customer');
    await expectError('POST', '/v1/admin/churn/evaluate', { asOf: 'yesterday' }, 400, 'asOf');
    await expectError(
      'POST',
      '/v1/admin/churn/evaluate',
      { config: { 'overdue-contact': { multiplier: 0 } } },
      400,
      'config.overdue-contact.multiplier',
    );
    await expectError('POST', '/v1/admin/churn/evaluate', { asOff: '2026-07-03' }, 400, 'asOff');
    await expectError(
      'POST',
      '/v1/admin/churn/evaluate',
      { asOf: '2026-01-01' },
      409,
      'before the latest',
    );
    await expectError('GET', '/v1/churn/flags', undefined, 401, 'API key', null);
    await expectError('POST', '/v1/admin/churn/evaluate', {}, 403, 'admin', analystKey);
    expect((await api('GET', '/v1/churn/flags', undefined, analystKey)).status).toBe(200);
  });
});

describe('scheduled churn evaluation', () => {
  it('evaluates as of now on its own when TOUCHLINE_CHURN_EVALUATE_MINUTES is set', async () => {
    const touchline = await startEmbeddedTouchline('churn-schedule', {
      TOUCHLINE_CHURN_EVALUATE_MINUTES: '1',
    });
    try {
      const evaluation = await eventually(async () => {
        const response = await fetch(`${touchline.server.url}/v1/churn/evaluations`, {
          headers: { authorization: `Bearer ${touchline.apiKey}` },
        });
        const body = (await response.json()) as { items: Evaluation[] };
        return body.items.find((e) => e.trigger === 'schedule' && e.status === 'completed');
      });
      expect(Date.now() - Date.parse(evaluation.asOf)).toBeLessThan(60_000);
    } finally {
      await touchline.stop();
    }
  });

  it('refuses to start with a malformed TOUCHLINE_CHURN_EVALUATE_MINUTES, naming it', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-churn-bad-'));
    try {
      await expect(
        startServer({ TOUCHLINE_DATA_DIR: dataDir, TOUCHLINE_CHURN_EVALUATE_MINUTES: 'often' }),
      ).rejects.toThrow(/TOUCHLINE_CHURN_EVALUATE_MINUTES/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

const CDNOW_SAMPLE = path.resolve(
  process.env['TOUCHLINE_CDNOW_DIR'] ?? path.join(REPO_ROOT, '../shared/data/cdnow'),
  'CDNOW_sample.txt',
);

describe('model-based churn flags on the CDNOW sample (embedded mode)', () => {
  let touchline: EmbeddedTouchline;

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('churn-cdnow');
  });

  afterAll(async () => {
    await touchline?.stop();
  });

  it('flags exactly the customers whose stored P(alive) is below the threshold, with the same value, as of the calibration end', async () => {
    const { url } = touchline.server;
    await run(
      process.execPath,
      [
        path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
        '--url',
        url,
        '--key',
        touchline.apiKey,
        'import',
        'orders',
        CDNOW_SAMPLE,
        '--source',
        'cdnow',
        '--delimiter',
        'whitespace',
        '--columns',
        'master_id,sample_id,date,cds,dollars',
        '--map',
        'userId=sample_id,timestamp=date,total=dollars,quantity=cds',
        '--report',
        path.join(touchline.dataDir, 'cdnow-report.jsonl'),
        '--json',
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    // Both read models the evaluation joins: orders (value projection) and identities (profiles).
    await eventually(async () => {
      const { rows } = await touchline.sql.query<{ orders: number; identified: number }>(
        `SELECT (SELECT count(*)::int FROM read_models.customer_orders) AS orders,
                (SELECT count(*)::int FROM read_models.customer_touchpoints WHERE type = 'OrderCompleted') AS identified`,
      );
      return rows[0]?.orders === 6_919 && rows[0].identified === 6_919 ? true : undefined;
    }, 90_000);

    const fit = await fetch(`${url}/v1/admin/models/clv/fit`, {
      method: 'POST',
      headers: { authorization: `Bearer ${touchline.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ calibrationEnd: '1997-09-30', timeUnitDays: 7 }),
    });
    expect(fit.status).toBe(201);
    const fitId = ((await fit.json()) as { id: string }).id;

    const evaluated = await fetch(`${url}/v1/admin/churn/evaluate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${touchline.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ asOf: '1997-09-30' }),
    });
    expect(evaluated.status).toBe(200);
    const evaluation = (await evaluated.json()) as Evaluation & {
      model: { fitId?: string; modelVersion?: string };
    };
    expect(evaluation.model).toMatchObject({ status: 'used', fitId, modelVersion: 'bg-nbd/1.0.0' });
    expect(evaluation.customers.evaluated).toBe(2_357);

    // Every scored customer: flagged by the model iff its stored score is under 0.3, and the
    // P(alive) in the reason is the stored one.
    const { rows } = await touchline.sql.query<{
      scored: number;
      low: number;
      mismatched: number;
      worst: number | null;
    }>(
      `WITH joined AS (
         SELECT s.p_alive, (f.reasons->'model-p-alive-low'->'details'->>'pAlive')::float8 AS flagged_p_alive
           FROM models.clv_scores s
           JOIN read_models.customer_identifiers ci ON ci.identifier = 'userId:' || substr(s.customer_key, 6)
           LEFT JOIN read_models.churn_flags f ON f.customer_id = ci.customer_id
          WHERE s.fit_id = $1)
       SELECT count(*)::int AS scored,
              count(*) FILTER (WHERE p_alive < 0.3)::int AS low,
              count(*) FILTER (WHERE (p_alive < 0.3) <> (flagged_p_alive IS NOT NULL))::int AS mismatched,
              max(abs(flagged_p_alive - p_alive)) AS worst
         FROM joined`,
      [fitId],
    );
    expect(rows[0]).toMatchObject({ scored: 2_357, mismatched: 0 });
    expect(rows[0]!.low).toBeGreaterThan(100);
    expect(rows[0]!.worst).toBeLessThan(1e-9);
  });
});
