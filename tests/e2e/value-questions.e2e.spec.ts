import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type EmbeddedTouchline, startEmbeddedTouchline } from './support/embedded-touchline';
import { basicAuth, eventually, REPO_ROOT, startServer } from './support/server-process';

const run = promisify(execFile);
const DAY = 86_400_000;

interface ImportSummary {
  rows: number;
  accepted: number;
  rejected: number;
  report: string;
}
interface Rejection {
  line: number;
  code: string;
  field: string;
  message: string;
}
interface Profile {
  customerId: string;
  identifiers: { kind: string; value: string }[];
  channels: Record<'web' | 'email' | 'phone' | 'other', { events: number }>;
  totalEvents: number;
  lastSeenAt: string;
  orders: { count: number; netRevenue: string };
}
interface Prospect {
  customerId: string;
  stage: string;
  score: number;
  orders: number;
  totalEvents: number;
  channels: number;
  emailClicks90d: number;
  lastSeenAt: string;
  daysSinceLastSeen: number;
}
interface Risk {
  customerId: string;
  risk: number;
  clv: number | null;
  clvAtRisk: number | null;
  netRevenue: string;
  revenueAtRisk: number;
  reasonCodes: string[];
}

/** The documented prospect score (docs/customer-value.md), computed here on its own. */
const prospectScore = (p: Prospect) =>
  (Math.log(1 + p.totalEvents) + Math.log(1 + p.emailClicks90d) + 0.5 * (p.channels - 1)) *
  0.5 ** (p.daysSinceLastSeen / 30);

const clientFor = (touchline: () => EmbeddedTouchline) => {
  const api = async <T>(method: string, route: string, body?: unknown, key?: string) => {
    const response = await fetch(`${touchline().server.url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${key ?? touchline().apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const ok = async <T>(method: string, route: string, body?: unknown, key?: string) => {
    const answer = await api<T>(method, route, body, key);
    if (answer.status >= 300)
      throw new Error(`${method} ${route}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const cli = async (...args: string[]): Promise<string> =>
    (
      await run(
        process.execPath,
        [
          path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
          '--url',
          touchline().server.url,
          '--key',
          touchline().apiKey,
          ...args,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      )
    ).stdout;
  const segment = async (batch: unknown[]) => {
    const response = await fetch(`${touchline().server.url}/v1/batch`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: basicAuth(touchline().writeKey),
      },
      body: JSON.stringify({ batch }),
    });
    expect(response.status).toBe(200);
  };
  return { api, ok, cli, segment };
};

const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
const page = (userId: string, at: string) => ({
  type: 'page',
  userId,
  name: 'Home',
  messageId: randomUUID(),
  timestamp: at,
});
const order = (userId: string, orderId: string, total: string, at: string) => ({
  type: 'track',
  userId,
  event: 'Order Completed',
  messageId: randomUUID(),
  timestamp: at,
  properties: { order_id: orderId, total, currency: 'USD' },
});

/**
 * The last questions of issue 5 through the real server (embedded mode): contacts imported from
 * another system with the CLI, promising prospects and valuable customers at risk, each with
 * one call (API, CLI, SQL).
 */
describe('contacts import, prospects and risks (embedded mode)', () => {
  const tag = randomUUID().slice(0, 8);
  const ann = `ann.${tag}@example.com`;
  let touchline: EmbeddedTouchline;
  let dir: string;
  let analystKey: string;
  const { api, ok, cli, segment } = clientFor(() => touchline);
  const profileOf = (query: string) =>
    eventually(async () => {
      const answer = await api<Profile>('GET', `/v1/profiles/lookup?${query}`);
      return answer.status === 200 ? answer.body : undefined;
    });

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('value-questions');
    dir = await mkdtemp(path.join(tmpdir(), 'touchline-contacts-'));
    analystKey = (
      await ok<{ key: string }>('POST', '/v1/admin/keys', { role: 'analyst', label: 'e2e' })
    ).key;
  });
  afterAll(async () => {
    await touchline?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('imports contacts from CSV and JSON lines idempotently, with a report of rejected rows', async () => {
    const at = (hoursAgo: number) => iso(hoursAgo * 3_600_000);
    const csv = [
      'ref,type,occurredAt,mail,phone,externalId,userId,topic,outcome,notes,storeId,ticketId,direction,durationSeconds,url',
      `v1,store.visit,${at(50)},${ann},,,,,bought nothing,,s-1,,,,`,
      `m1,meeting,${at(40)},${ann},,,ann-${tag},pricing,follow-up,,,,,,`,
      `t1,ticket.opened,${at(30)},${ann},,,,,,"printer broken, again",,T-9,,,`,
      `t2,ticket.resolved,${at(20)},${ann},,,,,fixed,,,T-9,,,`,
      `c1,call,${at(10)},,+14155550123,crm-${tag},,billing,resolved,,,,inbound,120,`,
      `,email.clicked,${at(5)},${ann},,,,,,,,,,,https://example.com/offer`,
      `x1,fax,${at(5)},${ann},,,,,,,,,,,`,
      `x2,meeting,${at(5)},,,,,,,,,,,,`,
      `x3,meeting,yesterday,${ann},,,,,,,,,,,`,
      `x4,store.visit,${at(5)},${ann},,,,,,,,,,,`,
      `x5,email.sent,${at(5)},not-an-address,,,,,,,,,,,`,
      `x6,call,${at(5)},,+14155550123,,,,,,,,,60,`,
    ].join('\n');
    const file = path.join(dir, 'crm.csv');
    await writeFile(file, `${csv}\n`);
    const importCsv = async (report: string) =>
      JSON.parse(
        await cli(
          'import',
          'contacts',
          file,
          '--source',
          `crm-${tag}`,
          '--map',
          'id=ref,email=mail',
          '--report',
          report,
          '--json',
        ),
      ) as ImportSummary;
    const first = await importCsv(path.join(dir, 'report-1.jsonl'));
    expect(first).toMatchObject({ rows: 12, accepted: 6, rejected: 6 });
    const report = (await readFile(first.report, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rejection);
    expect(report.map((r) => [r.line, r.code, r.field])).toEqual([
      [8, 'bad-type', 'type'],
      [9, 'missing-customer', 'customer'],
      [10, 'bad-date', 'occurredAt'],
      [11, 'missing-field', 'storeId'],
      [12, 'bad-email', 'email'],
      [13, 'missing-field', 'direction'],
    ]);
    expect(report[0]!.message).toMatch(/store\.visit/);

    // Ann's five contacts and her user id (linked by the meeting row) are one profile.
    const profile = await eventually(async () => {
      const p = await profileOf(`email=${encodeURIComponent(ann)}`);
      return p.totalEvents >= 6 ? p : undefined;
    });
    expect(profile.channels.other.events).toBe(4);
    expect(profile.channels.email.events).toBe(1);
    // The UserIdentified that links the user id counts as one web touchpoint.
    expect(profile.channels.web.events).toBe(1);
    expect(profile.identifiers).toEqual(
      expect.arrayContaining([
        { kind: 'email', value: ann },
        { kind: 'userId', value: `ann-${tag}` },
      ]),
    );
    const caller = await profileOf('phone=%2B14155550123');
    expect(caller.identifiers).toEqual(
      expect.arrayContaining([{ kind: 'externalId', value: `crm:crm-${tag}` }]),
    );

    const stored = async () =>
      Number(
        (
          await touchline.sql.query<{ n: string }>(
            `SELECT count(*) AS n FROM event_store.events WHERE metadata->>'sourceId' = $1`,
            [`crm-${tag}`],
          )
        ).rows[0]!.n,
      );
    const deadLetters = async () =>
      Number(
        (
          await touchline.sql.query<{ n: string }>(
            `SELECT count(*) AS n FROM ingest.dead_letters
              WHERE endpoint = '/v1/admin/import/contacts' AND source_id = $1`,
            [`crm-${tag}`],
          )
        ).rows[0]!.n,
      );
    // Six contacts and one link.
    expect(await stored()).toBe(7);
    expect(await deadLetters()).toBe(6);

    const again = await importCsv(path.join(dir, 'report-2.jsonl'));
    expect(again).toMatchObject({ rows: 12, accepted: 6, rejected: 6 });
    expect(await readFile(again.report, 'utf8')).toBe(await readFile(first.report, 'utf8'));
    expect(await stored()).toBe(7);
    expect(await deadLetters()).toBe(6);
    const after = await profileOf(`email=${encodeURIComponent(ann)}`);
    expect(after.totalEvents).toBe(profile.totalEvents);

    // JSON lines: the same fields, one object a line; a line that is not JSON is reported.
    const jsonl = path.join(dir, 'desk.jsonl');
    await writeFile(
      jsonl,
      [
        JSON.stringify({
          type: 'ticket.opened',
          occurredAt: at(2),
          email: `desk.${tag}@example.com`,
          ticketId: 'D-1',
          subject: 'refund please',
        }),
        '{not json',
      ].join('\n'),
    );
    const desk = JSON.parse(
      await cli(
        'import',
        'contacts',
        jsonl,
        '--source',
        `desk-${tag}`,
        '--report',
        path.join(dir, 'desk.jsonl.report'),
        '--json',
      ),
    ) as ImportSummary;
    expect(desk).toMatchObject({ rows: 2, accepted: 1, rejected: 1 });
    const deskProfile = await profileOf(`email=desk.${tag}%40example.com`);
    expect(deskProfile.channels.other.events).toBe(1);

    // The API answers per row, and refuses a malformed body naming the field.
    const bad = await api<{ error: { message: string } }>('POST', '/v1/admin/import/contacts', {
      sourceId: 'x',
      rows: [{ line: 'one', fields: {} }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/rows\[0\]/);
    expect(
      (await api('POST', '/v1/admin/import/contacts', { sourceId: 'x', rows: [] }, analystKey))
        .status,
    ).toBe(403);
  });

  it('ranks prospects by the documented score and leaves out buyers and flagged customers', async () => {
    const lead = `lead-${tag}`;
    const quiet = `quiet-${tag}`;
    const once = `once-${tag}`;
    const twice = `twice-${tag}`;
    const leaver = `leaver-${tag}`;
    const leadMail = `lead.${tag}@example.com`;
    const leaverMail = `leaver.${tag}@example.com`;
    await segment([
      ...[30, 20, 10, 5, 3, 1].map((h) => page(lead, iso(h * 3_600_000))),
      { type: 'identify', userId: lead, messageId: randomUUID(), traits: { email: leadMail } },
      ...[400, 300].map((h) => page(quiet, iso(h * 3_600_000))),
      page(once, iso(50 * 3_600_000)),
      order(once, `o-${tag}-1`, '40.00', iso(49 * 3_600_000)),
      page(twice, iso(50 * 3_600_000)),
      order(twice, `o-${tag}-2`, '10.00', iso(48 * 3_600_000)),
      order(twice, `o-${tag}-3`, '10.00', iso(47 * 3_600_000)),
      page(leaver, iso(5 * 3_600_000)),
      { type: 'identify', userId: leaver, messageId: randomUUID(), traits: { email: leaverMail } },
    ]);
    // Email engagement from the old mailing system, and the leaver's unsubscribe.
    const file = path.join(dir, 'mail.csv');
    await writeFile(
      file,
      [
        'type,occurredAt,email,url',
        `email.clicked,${iso(4 * 3_600_000)},${leadMail},https://example.com/a`,
        `email.clicked,${iso(3 * 3_600_000)},${leadMail},https://example.com/b`,
        `email.unsubscribed,${iso(2 * 3_600_000)},${leaverMail},`,
      ].join('\n'),
    );
    await cli('import', 'contacts', file, '--source', `mail-${tag}`, '--report', `${file}.report`);
    await eventually(async () => {
      const p = await api<Profile>('GET', `/v1/profiles/lookup?userId=${lead}`);
      return p.status === 200 && p.body.totalEvents >= 9 ? true : undefined;
    });
    await eventually(async () => {
      const p = await api<Profile>('GET', `/v1/profiles/lookup?userId=${twice}`);
      return p.status === 200 && p.body.orders.count === 2 ? true : undefined;
    });
    await eventually(async () => {
      const p = await api<Profile>('GET', `/v1/profiles/lookup?email=${leaverMail}`);
      return p.status === 200 && p.body.totalEvents >= 3 ? true : undefined;
    });
    await ok('POST', '/v1/admin/churn/evaluate', {});

    const ids: Record<string, string> = {};
    for (const user of [lead, quiet, once, twice, leaver])
      ids[user] = (await ok<Profile>('GET', `/v1/profiles/lookup?userId=${user}`)).customerId;
    const listing = await ok<{ items: Prospect[]; nextCursor: string | null; rankedAt: string }>(
      'GET',
      '/v1/value/prospects?limit=500',
      undefined,
      analystKey,
    );
    const mine = listing.items.filter((p) => Object.values(ids).includes(p.customerId));
    expect(mine.map((p) => p.customerId)).toEqual([ids[lead], ids[once], ids[quiet]]);
    const leadRow = mine[0]!;
    expect(leadRow).toMatchObject({ stage: 'lead', orders: 0, channels: 2, emailClicks90d: 2 });
    expect(mine[1]).toMatchObject({ stage: 'first-order', orders: 1 });
    for (const p of listing.items) expect(p.score).toBeCloseTo(prospectScore(p), 9);
    for (let i = 1; i < listing.items.length; i++)
      expect(listing.items[i - 1]!.score).toBeGreaterThanOrEqual(listing.items[i]!.score);

    // Pages of one item each walk the same ranking.
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const next: { items: Prospect[]; nextCursor: string | null } = await ok(
        'GET',
        `/v1/value/prospects?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      walked.push(...next.items.map((p) => p.customerId));
      cursor = next.nextCursor;
    } while (cursor !== null && walked.length < 100);
    expect(walked).toEqual(listing.items.map((p) => p.customerId));

    // The same answer from SQL and the CLI.
    const sql = await touchline.sql.query<{ customer_id: string }>(
      `SELECT customer_id FROM read_models.customer_prospects
        WHERE customer_id = ANY($1) ORDER BY score DESC`,
      [Object.values(ids)],
    );
    expect(sql.rows.map((r) => r.customer_id)).toEqual(mine.map((p) => p.customerId));
    const leads = JSON.parse(await cli('value', 'prospects', '--stage', 'lead', '--json')) as {
      items: Prospect[];
    };
    expect(leads.items.every((p) => p.stage === 'lead')).toBe(true);
    expect(leads.items.map((p) => p.customerId)).toContain(ids[lead]);

    for (const [query, named] of [
      ['stage=buyer', 'stage'],
      ['limit=0', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ['colour=red', 'colour'],
    ]) {
      const answer = await api<{ error: { code: string; message: string } }>(
        'GET',
        `/v1/value/prospects?${query}`,
      );
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toContain(named);
    }
  });

  it('ranks the valuable customers at risk by value × risk, with CLV from the latest fit', async () => {
    // Forty buyers over the last year with different rates, some of them gone quiet long ago:
    // the heterogeneity BG/NBD and Gamma-Gamma need to have a maximum. Dates are whole days
    // before today (UTC), so the data are the same whatever the time of day the test runs.
    const today = Date.parse(new Date().toISOString().slice(0, 10));
    const daysAgo = (days: number) => new Date(today - days * DAY).toISOString().slice(0, 10);
    const buyers = Array.from({ length: 40 }, (_, i) => `buyer-${i}-${tag}`);
    const orderCounts = buyers.map((_, i) => 1 + ((i * 7) % 9));
    const lines = ['userId,orderId,timestamp,total'];
    buyers.forEach((user, i) => {
      const first = 340 - ((i * 11) % 60);
      const gap = 8 + ((i * 13) % 45);
      for (let k = 0; k < (orderCounts[i] ?? 1); k++) {
        const day = first - k * gap;
        if (day < 2) break;
        lines.push(`${user},${user}-o${k},${daysAgo(day)},${10 * ((i % 5) + 1) + 3 * (k % 4)}.00`);
      }
    });
    const last = buyers.length - 1;
    const lastOrders = lines.filter((line) => line.startsWith(`${buyers[last]},`)).length;
    const file = path.join(dir, 'orders.csv');
    await writeFile(file, `${lines.join('\n')}\n`);
    await cli('import', 'orders', file, '--source', `shop-${tag}`, '--report', `${file}.report`);
    await eventually(async () => {
      const p = await api<Profile>('GET', `/v1/profiles/lookup?userId=${buyers[last]}`);
      return p.status === 200 && p.body.orders.count === lastOrders ? true : undefined;
    });
    const fit = await ok<{ id: string; status: string }>('POST', '/v1/admin/models/clv/fit', {
      calibrationEnd: new Date().toISOString().slice(0, 10),
    });
    expect(fit.status).toBe('fitted');
    // Four of them unsubscribe; one of those also complains.
    const mails = buyers.slice(0, 4).map((u) => `${u}@example.com`);
    await segment(
      buyers.slice(0, 4).map((userId, i) => ({
        type: 'identify',
        userId,
        messageId: randomUUID(),
        traits: { email: mails[i] },
      })),
    );
    const contacts = path.join(dir, 'leaving.csv');
    await writeFile(
      contacts,
      [
        'type,occurredAt,email,ticketId,outcome',
        ...mails.map((m) => `email.unsubscribed,${iso(DAY)},${m},,`),
        `ticket.resolved,${iso(DAY)},${mails[1]},T-1,customer unhappy: cancel`,
      ].join('\n'),
    );
    await cli(
      'import',
      'contacts',
      contacts,
      '--source',
      `leaving-${tag}`,
      '--report',
      `${contacts}.report`,
    );
    await eventually(async () => {
      const p = await api<Profile>('GET', `/v1/profiles/lookup?email=${mails[1]}`);
      return p.status === 200 &&
        p.body.channels.email.events >= 1 &&
        p.body.channels.other.events >= 1
        ? true
        : undefined;
    });
    await ok('POST', '/v1/admin/churn/evaluate', {});

    const risks = await ok<{ items: Risk[]; nextCursor: string | null }>(
      'GET',
      '/v1/value/risks?limit=500',
      undefined,
      analystKey,
    );
    const flagged = await touchline.sql.query<{ customer_id: string; risk: number }>(
      'SELECT customer_id, risk FROM read_models.churn_flags',
    );
    expect(risks.items.map((r) => r.customerId).sort()).toEqual(
      flagged.rows.map((r) => r.customer_id).sort(),
    );
    // CLV on its own from the scores: the sum over each customer's keys under the latest fit.
    const clvs = await touchline.sql.query<{ customer_id: string; clv: number }>(
      `SELECT i.customer_id, sum(s.clv) AS clv
         FROM read_models.customer_identifiers i
         JOIN models.clv_scores s ON s.fit_id = $1 AND s.customer_key = 'user:' || substr(i.identifier, 8)
        WHERE i.identifier LIKE 'userId:%' GROUP BY 1`,
      [fit.id],
    );
    const clvOf = new Map(clvs.rows.map((r) => [r.customer_id, Number(r.clv)]));
    const riskOf = new Map(flagged.rows.map((r) => [r.customer_id, r.risk]));
    for (const r of risks.items) {
      expect(r.risk).toBe(riskOf.get(r.customerId));
      if (clvOf.has(r.customerId)) {
        expect(r.clv).toBeCloseTo(clvOf.get(r.customerId)!, 6);
        expect(r.clvAtRisk).toBeCloseTo(clvOf.get(r.customerId)! * r.risk, 6);
      } else expect(r.clv).toBeNull();
      expect(r.revenueAtRisk).toBeCloseTo(Number(r.netRevenue) * r.risk, 6);
    }
    const key = (r: Risk) => [r.clvAtRisk ?? -1, r.revenueAtRisk] as const;
    for (let i = 1; i < risks.items.length; i++) {
      const [a, b] = [key(risks.items[i - 1]!), key(risks.items[i]!)];
      expect(a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1])).toBe(true);
    }
    const buyerIds = await Promise.all(
      buyers
        .slice(0, 4)
        .map(async (u) => (await ok<Profile>('GET', `/v1/profiles/lookup?userId=${u}`)).customerId),
    );
    const atRisk = risks.items.filter((r) => buyerIds.includes(r.customerId));
    expect(atRisk).toHaveLength(4);
    expect(atRisk.every((r) => r.reasonCodes.includes('unsubscribed') && r.clv !== null)).toBe(
      true,
    );
    expect(atRisk.find((r) => r.customerId === buyerIds[1])!.reasonCodes).toContain('complaint');

    const byRevenue = await ok<{ items: Risk[] }>('GET', '/v1/value/risks?by=netRevenue&limit=2');
    const sortedRevenue = [...risks.items].sort(
      (a, b) => b.revenueAtRisk - a.revenueAtRisk || (a.customerId < b.customerId ? -1 : 1),
    );
    expect(byRevenue.items.map((r) => r.customerId)).toEqual(
      sortedRevenue.slice(0, 2).map((r) => r.customerId),
    );
    const viaCli = JSON.parse(await cli('value', 'risks', '--limit', '3', '--json')) as {
      items: Risk[];
    };
    expect(viaCli.items.map((r) => r.customerId)).toEqual(
      risks.items.slice(0, 3).map((r) => r.customerId),
    );
    const bad = await api<{ error: { message: string } }>('GET', '/v1/value/risks?by=ltv');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('by');
  });
});

describe('scheduled CLV refit', () => {
  it('refits as of now every TOUCHLINE_CLV_REFIT_HOURS, logging a refusal without crashing', async () => {
    const touchline = await startEmbeddedTouchline('clv-refit', {
      TOUCHLINE_CLV_REFIT_HOURS: '0.001',
    });
    const { cli } = clientFor(() => touchline);
    const dir = await mkdtemp(path.join(tmpdir(), 'touchline-refit-'));
    const tag = randomUUID().slice(0, 8);
    try {
      // No orders yet: the scheduled fit is refused, stored and logged with its code.
      const refused = await eventually(async () =>
        Promise.resolve(
          touchline.server.logs.find((l) => l.msg.startsWith('scheduled CLV refit refused')),
        ),
      );
      expect(refused['code']).toEqual(expect.any(String));
      const stored = await touchline.sql.query<{ status: string; trigger: string }>(
        `SELECT status, trigger FROM models.clv_fits WHERE trigger = 'schedule'`,
      );
      expect(stored.rows[0]).toEqual({ status: 'refused', trigger: 'schedule' });

      const users = Array.from({ length: 12 }, (_, i) => `refit-${i}-${tag}`);
      const lines = ['userId,orderId,timestamp,total'];
      users.forEach((user, i) => {
        for (let k = 0; k <= (i % 3) + 1; k++)
          lines.push(
            `${user},${user}-${k},${iso((200 - 50 * k - i) * DAY).slice(0, 10)},${20 + 7 * i + 3 * k}.00`,
          );
      });
      const file = path.join(dir, 'orders.csv');
      await writeFile(file, `${lines.join('\n')}\n`);
      await cli('import', 'orders', file, '--source', 'refit', '--report', `${file}.report`);

      const today = new Date().toISOString().slice(0, 10);
      // A fit that runs before the projection caught up is refused first: that is expected.
      const fitted = await eventually(async () => {
        const { rows } = await touchline.sql.query<{ id: string; calibration_end: string }>(
          `SELECT id, calibration_end::text FROM models.clv_fits
            WHERE trigger = 'schedule' AND status = 'fitted'`,
        );
        return rows[0];
      }).catch(async (error: Error) => {
        const fits = await touchline.sql.query(
          'SELECT status, trigger, failure_code, failure_message, customers FROM models.clv_fits',
        );
        throw new Error(`${error.message}; fits: ${JSON.stringify(fits.rows)}`);
      });
      expect(fitted.calibration_end).toBe(today);
      const scores = await touchline.sql.query<{ n: string }>(
        'SELECT count(*) AS n FROM models.clv_scores WHERE fit_id = $1',
        [fitted.id],
      );
      expect(Number(scores.rows[0]!.n)).toBe(12);
      // Logs name fits and counts, never a customer.
      const clvLogs = touchline.server.logs.filter((l) => l['component'] === 'clv');
      expect(clvLogs.some((l) => l.msg === 'scheduled CLV refit done')).toBe(true);
      expect(JSON.stringify(clvLogs)).not.toContain(tag);
    } finally {
      await touchline.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with an interval under 0.001 hours, naming the variable', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-refit-bad-'));
    try {
      await expect(
        startServer({ TOUCHLINE_DATA_DIR: dataDir, TOUCHLINE_CLV_REFIT_HOURS: '0.0001' }),
      ).rejects.toThrow(/TOUCHLINE_CLV_REFIT_HOURS/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
