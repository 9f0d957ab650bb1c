import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { eventually, REPO_ROOT, type ServerProcess, startServer } from './support/server-process';

const run = promisify(execFile);

const CDNOW_SAMPLE = path.resolve(
  process.env['TOUCHLINE_CDNOW_DIR'] ?? path.join(REPO_ROOT, '../shared/data/cdnow'),
  'CDNOW_sample.txt',
);
/** The CDNOW README: 6,919 records, 2,357 customers, $244,091.94 in all. */
const CDNOW_ROWS = 6_919;
const CDNOW_CUSTOMERS = 2_357;
const CDNOW_TOTAL = '244091.94';

/** Published estimates (FHL 2005; Fader & Hardie's Gamma-Gamma note) for the 39-week calibration. */
const PUBLISHED = {
  bgNbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
  gammaGamma: { p: 6.25, q: 3.74, gamma: 15.44 },
};

interface ImportSummary {
  rows: number;
  accepted: number;
  rejected: number;
  report: string;
}

interface Fit {
  id: string;
  status: string;
  customers: number;
  orders: number;
  bgNbd: { modelVersion: string; parameters: Record<string, number> };
  gammaGamma: { modelVersion: string; parameters: Record<string, number> };
}

/**
 * Customer value through the platform: the CDNOW sample imported with the `touchline` CLI (the
 * real import path: CLI → admin API → envelopes → recorder → event store → projection), the
 * CLV models fitted and scored through the API, and bad input kept and reported.
 */
describe('customer value: import, historical value, CLV (embedded mode)', () => {
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;
  let db: Client;

  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(
      process.execPath,
      [
        path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
        '--url',
        server.url,
        '--key',
        apiKey,
        ...args,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  };
  const api = async (route: string, init: RequestInit = {}) => {
    const response = await fetch(`${server.url}${route}`, {
      ...init,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const importCdnow = async (reportPath: string): Promise<ImportSummary> =>
    JSON.parse(
      await cli(
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
        reportPath,
        '--json',
      ),
    ) as ImportSummary;
  const cdnowTotals = async () => {
    const result = await db.query<{ orders: number; customers: number; net: string }>(
      `SELECT (SELECT count(*)::int FROM read_models.customer_orders o
                WHERE o.event_id IN (SELECT event_id FROM event_store.events
                                      WHERE metadata->>'sourceId' = 'cdnow')) AS orders,
              count(*)::int AS customers, sum(net_revenue)::text AS net
         FROM read_models.customer_value WHERE customer_key ~ '^user:[0-9]{4}$'`,
    );
    return result.rows[0]!;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-value-'));
    server = await startServer({ TOUCHLINE_DATA_DIR: dataDir, TOUCHLINE_FX_RATES: 'EUR=1.08' });
    apiKey = (
      JSON.parse(await readFile(path.join(dataDir, 'credentials.json'), 'utf8')) as {
        apiKey: string;
      }
    ).apiKey;
    const databaseUrl = server.logs.find((l) => l.msg === 'embedded database started')?.[
      'embeddedDatabaseUrl'
    ];
    db = new Client({ connectionString: databaseUrl as string });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('imports the CDNOW sample through the CLI and fits BG/NBD and Gamma-Gamma within 1% of the published parameters', async () => {
    const started = Date.now();
    const summary = await importCdnow(path.join(dataDir, 'cdnow-report.jsonl'));
    const importSeconds = (Date.now() - started) / 1000;
    expect(summary).toMatchObject({ rows: CDNOW_ROWS, accepted: CDNOW_ROWS, rejected: 0 });
    expect(await readFile(summary.report, 'utf8')).toBe('');

    const totals = await eventually(async () => {
      const t = await cdnowTotals();
      return t.orders === CDNOW_ROWS ? t : undefined;
    }, 60_000);
    // Exact decimal sums: the README's total to the cent.
    expect(totals).toEqual({ orders: CDNOW_ROWS, customers: CDNOW_CUSTOMERS, net: CDNOW_TOTAL });

    const fitStarted = Date.now();
    const { status, body } = await api('/v1/admin/models/clv/fit', {
      method: 'POST',
      body: JSON.stringify({
        calibrationEnd: '1997-09-30',
        timeUnitDays: 7,
        horizonPeriods: 52,
        discountRatePerPeriod: 0.002,
      }),
    });
    const fitSeconds = (Date.now() - fitStarted) / 1000;
    expect(status).toBe(201);
    const fit = body as unknown as Fit;
    expect(fit).toMatchObject({ status: 'fitted', customers: CDNOW_CUSTOMERS });
    for (const [name, published] of Object.entries(PUBLISHED.bgNbd)) {
      expect(Math.abs(fit.bgNbd.parameters[name]! / published - 1)).toBeLessThan(0.01);
    }
    for (const [name, published] of Object.entries(PUBLISHED.gammaGamma)) {
      expect(Math.abs(fit.gammaGamma.parameters[name]! / published - 1)).toBeLessThan(0.01);
    }
    expect(fit.bgNbd.modelVersion).toBe('bg-nbd/1.0.0');
    process.stderr.write(
      `customer-value e2e: import ${importSeconds.toFixed(1)} s, fit+score ${fitSeconds.toFixed(1)} s; ` +
        `${JSON.stringify(fit.bgNbd.parameters)} ${JSON.stringify(fit.gammaGamma.parameters)}\n`,
    );

    // Every customer scored, every score finite (PostgreSQL float8 would hold NaN or Infinity).
    const scores = await db.query<{ n: number; bad: number }>(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE p_alive IN ('NaN', 'Infinity', '-Infinity')
                OR expected_purchases IN ('NaN', 'Infinity', '-Infinity')
                OR expected_average_order_value IN ('NaN', 'Infinity', '-Infinity')
                OR clv IN ('NaN', 'Infinity', '-Infinity') OR p_alive < 0 OR p_alive > 1)::int AS bad
         FROM models.clv_scores WHERE fit_id = $1`,
      [fit.id],
    );
    expect(scores.rows[0]).toEqual({ n: CDNOW_CUSTOMERS, bad: 0 });

    // RFM: every buyer scored 1..5 on each axis, the quintiles roughly even on monetary value,
    // and every buyer in exactly one named segment.
    const rfm = await db.query<{
      n: number;
      bad: number;
      lowest: number;
      highest: number;
      segments: number;
    }>(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE recency_score NOT BETWEEN 1 AND 5 OR frequency_score NOT BETWEEN 1 AND 5
                OR monetary_score NOT BETWEEN 1 AND 5 OR segment IS NULL)::int AS bad,
              count(*) FILTER (WHERE monetary_score = 1)::int AS lowest,
              count(*) FILTER (WHERE monetary_score = 5)::int AS highest,
              count(DISTINCT segment)::int AS segments
         FROM read_models.customer_rfm`,
    );
    expect(rfm.rows[0]).toMatchObject({
      n: CDNOW_CUSTOMERS,
      bad: 0,
      segments: expect.any(Number) as number,
    });
    expect(rfm.rows[0]!.lowest).toBeGreaterThan(CDNOW_CUSTOMERS * 0.15);
    expect(rfm.rows[0]!.highest).toBeGreaterThan(CDNOW_CUSTOMERS * 0.15);
    expect(rfm.rows[0]!.segments).toBeGreaterThanOrEqual(5);
    const champion = await db.query<{ segment: string }>(
      `SELECT segment FROM read_models.customer_rfm ORDER BY net_revenue DESC, order_count DESC, last_order_at DESC LIMIT 1`,
    );
    expect(['champions', 'loyal', 'at risk']).toContain(champion.rows[0]!.segment);

    // The customer of FHL 2005's example (x = 2, t_x = 30.43, T = 38.86), with the model shown.
    const one = await api('/v1/customers/0001/value');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      customerKey: 'user:0001',
      historical: { currency: 'USD', orderCount: 4, netRevenue: '100.50' },
      prediction: {
        model: {
          fitId: fit.id,
          calibrationEnd: '1997-09-30',
          bgNbd: { modelVersion: 'bg-nbd/1.0.0', parameters: fit.bgNbd.parameters },
          gammaGamma: { modelVersion: 'gamma-gamma/1.0.0' },
        },
        summary: { x: 2 },
      },
    });
    const prediction = one.body['prediction'] as { pAlive: number; clv: number };
    expect(prediction.pAlive).toBeCloseTo(0.7266, 3);
    expect(prediction.clv).toBeGreaterThan(0);

    // The most valuable customers: stable order (value, then key), same answer twice.
    const top = JSON.parse(await cli('value', 'top', '--by', 'clv', '--limit', '10', '--json')) as {
      items: Array<{ rank: number; customerKey: string; clv: number }>;
    };
    expect(top.items).toHaveLength(10);
    for (let i = 1; i < top.items.length; i++) {
      const [prev, cur] = [top.items[i - 1]!, top.items[i]!];
      expect(
        prev.clv > cur.clv || (prev.clv === cur.clv && prev.customerKey < cur.customerKey),
      ).toBe(true);
    }
    const byRevenue = await api('/v1/value/top?by=netRevenue&limit=3');
    const revenueItems = byRevenue.body['items'] as Array<{ netRevenue: string }>;
    expect(revenueItems.map((i) => Number(i.netRevenue))).toEqual(
      [...revenueItems.map((i) => Number(i.netRevenue))].sort((a, b) => b - a),
    );
    expect((await api('/v1/value/top?by=clv&limit=10')).body['items']).toEqual(top.items);

    // Importing the same file again changes nothing: same events, same orders, same revenue.
    const again = await importCdnow(path.join(dataDir, 'cdnow-report-2.jsonl'));
    expect(again).toMatchObject({ rows: CDNOW_ROWS, accepted: CDNOW_ROWS, rejected: 0 });
    const events = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM event_store.events WHERE metadata->>'sourceId' = 'cdnow'",
    );
    expect(events.rows[0]!.n).toBe(CDNOW_ROWS);
    expect(await cdnowTotals()).toEqual(totals);
  });

  it('refuses a fit the data cannot support with the library code, stores the refusal, and keeps the previous scores', async () => {
    const before = await api('/v1/value/top?by=clv&limit=1');
    // On 1997-01-01 nobody has bought twice yet.
    const refused = await api('/v1/admin/models/clv/fit', {
      method: 'POST',
      body: JSON.stringify({ calibrationEnd: '1997-01-01', timeUnitDays: 7, horizonPeriods: 52 }),
    });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      error: {
        code: 'MODEL_NOT_FITTED',
        details: { status: 'refused', failure: { model: 'bg-nbd', code: 'no-repeat-purchases' } },
      },
    });
    const stored = await db.query<{ status: string; failure_code: string }>(
      'SELECT status, failure_code FROM models.clv_fits WHERE id = $1',
      [(refused.body['error'] as { details: { id: string } }).details.id],
    );
    expect(stored.rows).toEqual([{ status: 'refused', failure_code: 'no-repeat-purchases' }]);
    await expect(cli('clv', 'fit', '--as-of', '1997-01-01')).rejects.toThrow(/no-repeat-purchases/);
    expect(await api('/v1/value/top?by=clv&limit=1')).toEqual(before);
  });

  it('reports each bad row with its line and reason, keeps them as dead letters, and imports the good rows', async () => {
    const customer = `cv-${randomUUID().slice(0, 8)}`;
    const other = `cv-${randomUUID().slice(0, 8)}`;
    const file = path.join(dataDir, 'orders.csv');
    await writeFile(
      file,
      [
        'customer_id,order_ref,date,amount,currency,kind,note',
        `${customer},A-1,2024-03-01,100.00,EUR,order,"first, with a comma"`, // 2: good (EUR → USD)
        `${customer},A-2,2024-03-02,-5.00,EUR,order,`, // 3: negative amount
        `${customer},A-3,2024-03-03,10.00,XYZ,order,`, // 4: unknown currency
        `${customer},,2024-03-04,5.00,EUR,refund,`, // 5: refund without an order id
        `${customer},A-5,2024-13-45,5.00,EUR,order,`, // 6: bad date
        `,A-6,2024-03-05,5.00,EUR,order,`, // 7: missing customer
        `${customer},A-1,2024-03-10,10.00,EUR,refund,`, // 8: good partial refund of A-1
        `${customer},A-8,2024-03-11,1000,JPY,order,`, // 9: valid, but no JPY rate: flagged
        `${other},B-1,2024-03-12,1.10,USD,refund,`, // 10: refund whose order is unknown: flagged
        `${customer},A-9,2024-03-13,abc,USD,order,`, // 11: not a number
      ].join('\n'),
    );
    const reportPath = path.join(dataDir, 'orders-report.jsonl');
    const summary = JSON.parse(
      await cli(
        'import',
        'orders',
        file,
        '--source',
        'shop-history',
        '--map',
        'userId=customer_id,orderId=order_ref,timestamp=date,total=amount,type=kind',
        '--report',
        reportPath,
        '--json',
      ),
    ) as ImportSummary;
    expect(summary).toMatchObject({ rows: 10, accepted: 4, rejected: 6 });
    const report = (await readFile(reportPath, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; code: string; field: string; message: string });
    expect(report.map((r) => [r.line, r.code, r.field])).toEqual([
      [3, 'negative-amount', 'total'],
      [4, 'unknown-currency', 'currency'],
      [5, 'refund-without-order-id', 'orderId'],
      [6, 'bad-date', 'timestamp'],
      [7, 'missing-customer', 'userId'],
      [11, 'bad-amount', 'total'],
    ]);
    for (const r of report) expect(r.message.length).toBeGreaterThan(5);

    // 100.00 EUR × 1.08 − 10.00 EUR × 1.08, exactly; the JPY order is shown, not counted.
    const value = await eventually(async () => {
      const v = await api(`/v1/customers/${customer}/value`);
      const historical = v.body['historical'] as { orderCount: number } | undefined;
      const flags = v.body['flags'] as unknown[] | undefined;
      return historical?.orderCount === 1 && flags?.length === 1 ? v.body : undefined;
    });
    expect(value).toMatchObject({
      historical: {
        currency: 'USD',
        orderCount: 1,
        grossRevenue: '108.00',
        refunded: '10.80',
        netRevenue: '97.20',
        averageOrderValue: '97.200000',
        openFlags: 1,
      },
      flags: [
        {
          reasonCode: 'unknown-currency',
          orderId: 'A-8',
          currency: 'JPY',
          originalAmount: '1000',
        },
      ],
    });
    const orphan = await eventually(async () => {
      const v = await api(`/v1/customers/${other}/value`);
      return v.status === 200 ? v.body : undefined;
    });
    expect(orphan).toMatchObject({
      historical: { orderCount: 0, netRevenue: '0', openFlags: 1 },
      flags: [{ reasonCode: 'refund-without-order', orderId: 'B-1', originalAmount: '1.10' }],
    });

    // Server side, the rejected rows are dead letters with the reason, once each however often
    // the file is imported.
    await cli(
      'import',
      'orders',
      file,
      '--source',
      'shop-history',
      '--map',
      'userId=customer_id,orderId=order_ref,timestamp=date,total=amount,type=kind',
      '--report',
      reportPath,
    );
    const letters = await eventually(async () => {
      const result = await db.query<{ reason: string }>(
        `SELECT reason FROM ingest.dead_letters
          WHERE endpoint = '/v1/admin/import/orders' AND source_id = 'shop-history' ORDER BY reason`,
      );
      return result.rows.length >= 6 ? result.rows : undefined;
    });
    expect(letters.map((l) => l.reason.split(':')[0])).toEqual([
      'line 11',
      'line 3',
      'line 4',
      'line 5',
      'line 6',
      'line 7',
    ]);
  });
});
