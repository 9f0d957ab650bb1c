import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { TestDatabase } from '@touchline/platform/testing';
import {
  basicAuth,
  eventually,
  REPO_ROOT,
  type ServerProcess,
  startServer,
} from './support/server-process';
import { RoundRobinSender } from './support/round-robin-sender';
import { describeFullMode, postgresTarget } from './support/services';

const run = promisify(execFile);

interface Rebuild {
  id: string;
  status: string;
  mode: string;
  errorCode: string | null;
  errorMessage: string | null;
  diff:
    | {
        table: string;
        liveRows: number;
        rebuiltRows: number;
        onlyInLive: number;
        onlyInRebuilt: number;
        sampleKeys: string[];
      }[]
    | null;
}
interface View {
  builtVersion: number | null;
  lagEvents: number;
  previousVersion: { version: number; checkpointPosition: number } | null;
  rebuild: Rebuild | null;
}

/**
 * Blue/green rebuilds against a real server over PostgreSQL: a dry run finds a row that differs
 * from what the history says, a blue/green rebuild replaces the live rows in one step while
 * events keep arriving and queries keep answering, a rollback brings the replaced rows back, and
 * dropping the previous version leaves nothing to roll back to.
 */
describeFullMode('blue/green rebuilds, dry runs and rollback', () => {
  let database: TestDatabase;
  let dataDir: string;
  let server: ServerProcess;
  let keys: { writeKey: string; apiKey: string };
  let sql: Client;
  const runId = randomUUID().slice(0, 8);
  const users = Array.from({ length: 30 }, (_, i) => `bg-${runId}-${i}`);
  const sender = new RoundRobinSender(users, 'Blue Green', `bg-${runId}`);
  const sent = sender.sent;
  const tampered = `user:${users[0] ?? ''}`;
  /** Added to the tampered row: far more than any two customers' counts differ by while sending. */
  const TAMPER = 1_000;

  const adminOf =
    (projection: string) =>
    async (method: string, route: string, body?: unknown): Promise<Response> =>
      fetch(`${server.url}/v1/admin/projections/${projection}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${keys.apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
  const admin = adminOf('customer_activity');
  const viewOf = async (projection: string): Promise<View> =>
    (await (await adminOf(projection)('GET', '')).json()) as View;
  const view = () => viewOf('customer_activity');
  /** Start a rebuild (or rollback) and wait until it is no longer running. */
  const finished = async (
    start: Promise<Response>,
    projection = 'customer_activity',
  ): Promise<Rebuild> => {
    const answer = await start;
    expect(answer.status).toBe(202);
    const { rebuild } = (await answer.json()) as { rebuild: Rebuild };
    return eventually(
      async () => {
        const latest = (await viewOf(projection)).rebuild;
        return latest?.id === rebuild.id && latest.status !== 'running' ? latest : undefined;
      },
      60_000,
      200,
    );
  };

  const send = (count: number): Promise<void> => sender.send(server.url, keys.writeKey, count);
  const counts = async (): Promise<Map<string, number>> => {
    const { rows } = await sql.query<{ customer_key: string; total_events: number }>(
      `SELECT customer_key, total_events FROM read_models.customer_activity
        WHERE customer_key = ANY($1::text[])`,
      [users.map((u) => `user:${u}`)],
    );
    return new Map(rows.map((r) => [r.customer_key, r.total_events]));
  };
  /** Every count as sent, plus `extra` on the tampered row. */
  const countsAre = async (extra = 0): Promise<true | undefined> => {
    const now = await counts();
    for (const [userId, count] of sent) {
      const key = `user:${userId}`;
      if (now.get(key) !== count + (key === tampered ? extra : 0)) return undefined;
    }
    return true;
  };

  beforeAll(async () => {
    database = await postgresTarget().create();
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-blue-green-'));
    server = await startServer({ DATABASE_URL: database.url, TOUCHLINE_DATA_DIR: dataDir });
    keys = JSON.parse(
      await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
    ) as typeof keys;
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    await send(300);
    await eventually(() => countsAre(), 60_000);
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await server?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('a dry run finds nothing to change, then finds the one row that differs from the history', async () => {
    const clean = await finished(admin('POST', '/rebuild', { strategy: 'dry-run' }));
    expect(clean).toMatchObject({ status: 'completed', mode: 'dry-run' });
    expect(clean.diff).toEqual([
      expect.objectContaining({
        table: 'read_models.customer_activity',
        onlyInLive: 0,
        onlyInRebuilt: 0,
      }),
    ]);

    await sql.query(
      'UPDATE read_models.customer_activity SET total_events = total_events + $2 WHERE customer_key = $1',
      [tampered, TAMPER],
    );
    const { stdout } = await run(process.execPath, [
      path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
      '--url',
      server.url,
      '--key',
      keys.apiKey,
      'projections',
      'rebuild',
      'customer_activity',
      '--dry-run',
    ]);
    expect(stdout).toContain('1 of 1 tables differ');
    const dirty = (await view()).rebuild;
    expect(dirty?.diff?.[0]).toMatchObject({ onlyInLive: 1, onlyInRebuilt: 1 });
    expect(dirty?.diff?.[0]?.sampleKeys).toEqual([JSON.stringify({ customer_key: tampered })]);
    // A dry run changes nothing: the tampered row is still there, no version kept.
    expect((await counts()).get(tampered)).toBe((sent.get(users[0] ?? '') ?? 0) + TAMPER);
    expect((await view()).previousVersion).toBeNull();
  }, 120_000);

  it('a blue/green rebuild switches to the rebuilt rows while events arrive and queries answer', async () => {
    let queries = 0;
    let failedQueries = 0;
    let querying = true;
    const reader = (async () => {
      while (querying) {
        const answer = await fetch(`${server.url}/v1/customers/${users[1] ?? ''}`, {
          headers: { authorization: `Bearer ${keys.apiKey}` },
        });
        queries += 1;
        if (answer.status !== 200) failedQueries += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const sending = send(600);
    const rebuild = await finished(admin('POST', '/rebuild', { strategy: 'blue-green' }));
    await sending;
    querying = false;
    await reader;
    expect(rebuild).toMatchObject({ status: 'completed', mode: 'blue-green' });
    expect(queries).toBeGreaterThan(5);
    expect(failedQueries).toBe(0);
    // Rebuilt from the history: the tampering is gone, and no event counted twice or lost.
    await eventually(() => countsAre(0), 60_000);
    const after = await view();
    expect(after.builtVersion).toBe(1);
    expect(after.previousVersion?.version).toBe(1);
    // The replaced rows are kept for rollback, tampering and all: as of the switch, the tampered
    // customer is about TAMPER ahead of the next one (their own counts differ by a few events, as
    // the partitions' batches stand at the switch).
    const kept = await sql.query<{ customer_key: string; total_events: number }>(
      'SELECT customer_key, total_events FROM read_models_previous.customer_activity WHERE customer_key = ANY($1)',
      [[tampered, `user:${users[1] ?? ''}`]],
    );
    const keptCount = (key: string) =>
      kept.rows.find((r) => r.customer_key === key)?.total_events ?? 0;
    const lead = keptCount(tampered) - keptCount(`user:${users[1] ?? ''}`);
    expect(lead).toBeGreaterThan(TAMPER - 50);
    expect(lead).toBeLessThan(TAMPER + 50);
    const next = await sql.query(`SELECT to_regclass('read_models_next.customer_activity') AS t`);
    expect(next.rows[0]).toEqual({ t: null });
  }, 180_000);

  it('rolls back to the replaced rows and forward again, then drops the previous version', async () => {
    const back = await finished(admin('POST', '/rollback'));
    expect(back).toMatchObject({ status: 'completed', mode: 'rollback' });
    // The old rows are live again (tampered) and the projector continued them from their checkpoint.
    await eventually(() => countsAre(TAMPER), 60_000);
    const forward = await finished(admin('POST', '/rollback'));
    expect(forward.status).toBe('completed');
    await eventually(() => countsAre(0), 60_000);

    const dropped = await admin('DELETE', '/previous');
    expect(dropped.status).toBe(200);
    expect(await dropped.json()).toEqual({ dropped: true });
    expect((await view()).previousVersion).toBeNull();
    const gone = await sql.query(
      `SELECT to_regclass('read_models_previous.customer_activity') AS t`,
    );
    expect(gone.rows[0]).toEqual({ t: null });
    const nothing = await admin('POST', '/rollback');
    expect(nothing.status).toBe(404);
    expect(await nothing.json()).toMatchObject({ error: { code: 'NO_PREVIOUS_VERSION' } });
  }, 180_000);

  /**
   * The projections that got `inSchema` last, each with a history that takes its paths that read
   * back earlier rows (a duplicate order, refunds settled against their order, a banner repeated).
   */
  describe('customer_value, customer_products and consent_history', () => {
    const shopper = (n: number) => `bg-${runId}-shop-${n}`;
    const track = (userId: string, event: string, properties: object, day: number) => ({
      type: 'track',
      userId,
      event,
      properties,
      messageId: randomUUID(),
      timestamp: new Date(Date.UTC(2026, 1, day, 10)).toISOString(),
    });
    const banner = (userId: string, analytics: boolean, day: number) => ({
      type: 'page',
      userId,
      name: 'Home',
      context: { consent: { categoryPreferences: { Analytics: analytics } } },
      messageId: randomUUID(),
      timestamp: new Date(Date.UTC(2026, 1, day, 9)).toISOString(),
    });
    const post = async (batch: object[]): Promise<void> => {
      const response = await fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(keys.writeKey) },
        body: JSON.stringify({ batch }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ accepted: batch.length });
    };
    const one = async <T extends object>(text: string, values: unknown[]): Promise<T | undefined> =>
      (await sql.query<T>(text, values)).rows[0];
    /** Every row of each table, in a stable order (one query at a time: one connection). */
    const rowsOf = async (tables: readonly string[]): Promise<string[][]> => {
      const all: string[][] = [];
      for (const table of tables) {
        const { rows } = await sql.query<{ row: string }>(
          `SELECT to_jsonb(t)::text AS row FROM ${table} t ORDER BY 1`,
        );
        all.push(rows.map((r) => r.row));
      }
      return all;
    };

    beforeAll(async () => {
      const [ada, bob, cy] = [shopper(1), shopper(2), shopper(3)];
      const product = (id: string, price: string, quantity = 1) => ({
        product_id: id,
        price,
        quantity,
      });
      await post([
        track(
          ada,
          'Order Completed',
          {
            order_id: 'o-1',
            currency: 'USD',
            total: '100.00',
            products: [product('A', '60.00'), product('B', '40.00')],
          },
          1,
        ),
        // Another event for the same order id: flagged as a duplicate, adds no product.
        track(
          ada,
          'Order Completed',
          {
            order_id: 'o-1',
            currency: 'USD',
            total: '100.00',
            products: [product('Z', '100.00')],
          },
          2,
        ),
        track(
          ada,
          'Order Completed',
          {
            order_id: 'o-2',
            currency: 'USD',
            products: [product('C', '10.00', 2)],
          },
          3,
        ),
        track(
          bob,
          'Order Completed',
          {
            order_id: 'o-3',
            currency: 'EUR', // no rate configured: flagged, not counted
            total: '50.00',
            products: [product('D', '50.00')],
          },
          3,
        ),
        track(bob, 'Order Refunded', { order_id: 'o-404', currency: 'USD', total: '5.00' }, 4),
        banner(cy, true, 1),
        banner(cy, true, 2), // the same choice again: not a change, not recorded
        track(cy, 'Viewed', {}, 3),
        banner(cy, false, 4),
        track(
          cy,
          'Consent Changed',
          { purpose: 'email_marketing', granted: true, source: 'web-banner' },
          5,
        ),
      ]);
      await eventually(
        async () =>
          (
            await one<{ n: number }>(
              'SELECT order_count AS n FROM read_models.customer_value WHERE customer_key = $1',
              [`user:${ada}`],
            )
          )?.n === 2 || undefined,
        60_000,
      );
      // Refunds once their orders are counted: one in part, one beyond what is left, one unit.
      await post([
        track(ada, 'Order Refunded', { order_id: 'o-1', currency: 'USD', total: '30.00' }, 10),
        track(ada, 'Order Refunded', { order_id: 'o-1', currency: 'USD', total: '100.00' }, 11),
        track(
          ada,
          'Order Refunded',
          { order_id: 'o-2', currency: 'USD', products: [product('C', '10.00')] },
          12,
        ),
      ]);
      await eventually(async () => {
        // 120 ordered; 30, then 70 (not 100: only 70 was left of o-1), then 10 refunded.
        const value = await one<{ ten: boolean }>(
          'SELECT net_revenue = 10 AS ten FROM read_models.customer_value WHERE customer_key = $1',
          [`user:${ada}`],
        );
        const products = await one<{ n: number }>(
          'SELECT count(*)::int AS n FROM read_models.customer_products WHERE customer_key = ANY($1)',
          [[`user:${ada}`, `user:${bob}`]],
        );
        const consent = await one<{ n: number }>(
          `SELECT count(*)::int AS n FROM read_models.consent_history WHERE identifier = $1`,
          [`userId:${cy}`],
        );
        return value?.ten === true && products?.n === 4 && consent?.n === 3 ? true : undefined;
      }, 60_000);
      for (const name of ['customer_value', 'customer_products', 'consent_history'])
        await eventually(async () => ((await viewOf(name)).lagEvents === 0 ? true : undefined));
    }, 120_000);

    it.each([
      ['customer_value', 'read_models.customer_value'],
      ['customer_products', 'read_models.customer_products'],
      ['consent_history', 'read_models.consent_history'],
    ])(
      '%s: a dry run finds no difference, a blue/green rebuild restores a tampered table',
      async (name, served) => {
        const dry = await finished(
          adminOf(name)('POST', '/rebuild', { strategy: 'dry-run' }),
          name,
        );
        expect(dry).toMatchObject({ status: 'completed', mode: 'dry-run' });
        const { tables } = (await (await adminOf(name)('GET', '')).json()) as { tables: string[] };
        expect(tables).toContain(served);
        expect(dry.diff?.map((d) => d.table)).toEqual(tables);
        for (const difference of dry.diff ?? []) {
          // Not two empty tables: every table holds rows of the history above.
          expect(difference.liveRows).toBeGreaterThan(0);
          expect(difference).toMatchObject({
            rebuiltRows: difference.liveRows,
            onlyInLive: 0,
            onlyInRebuilt: 0,
          });
        }

        const before = await rowsOf(tables);
        const { builtVersion } = await viewOf(name);
        await sql.query(`DELETE FROM ${served} WHERE ctid = (SELECT ctid FROM ${served} LIMIT 1)`);
        const rebuild = await finished(
          adminOf(name)('POST', '/rebuild', { strategy: 'blue-green' }),
          name,
        );
        expect(rebuild).toMatchObject({ status: 'completed', mode: 'blue-green', errorCode: null });
        // Rebuilt from the history: every table as the live projector had built it, the deleted
        // row back; the replaced rows (without it) kept for rollback; the copy gone.
        expect(await rowsOf(tables)).toEqual(before);
        const table = served.split('.')[1] ?? '';
        const kept = await one<{ n: number }>(
          `SELECT count(*)::int AS n FROM read_models_previous.${table}`,
          [],
        );
        expect(kept?.n).toBe((before[tables.indexOf(served)]?.length ?? 0) - 1);
        // The rows it replaced, kept under the version that built them.
        expect(builtVersion).toEqual(expect.any(Number));
        expect((await viewOf(name)).previousVersion?.version).toBe(builtVersion);
        expect(await one('SELECT to_regclass($1) AS t', [`read_models_next.${table}`])).toEqual({
          t: null,
        });
      },
      120_000,
    );
  });

  it('rebuilds blue/green by itself when the code is newer than the version that built the rows', async () => {
    // As if the rows had been built by version 0 of the projection's code.
    await sql.query(
      `UPDATE projections.checkpoints SET version = 0 WHERE projection = 'customer_activity'`,
    );
    expect((await view()).builtVersion).toBe(0);
    // The other projections' rows were built by their current version: none of them is rebuilt.
    const others = [
      'web_touchpoints',
      'customer_value',
      'customer_profiles',
      'customer_products',
      'consent_history',
    ];
    const latestRebuilds = async () =>
      Promise.all(others.map(async (name) => (await viewOf(name)).rebuild?.id ?? null));
    const rebuildsBefore = await latestRebuilds();
    const env = { DATABASE_URL: database.url, TOUCHLINE_DATA_DIR: dataDir };
    await server.stop();
    server = await startServer(env);
    const rebuilt = await eventually(
      async () => {
        const current = await view();
        return current.builtVersion === 1 && current.rebuild?.status === 'completed'
          ? current
          : undefined;
      },
      60_000,
      200,
    );
    expect(rebuilt.rebuild?.mode).toBe('blue-green');
    expect(rebuilt.previousVersion?.version).toBe(0);
    expect(await latestRebuilds()).toEqual(rebuildsBefore);
    await eventually(() => countsAre(0), 60_000);
  }, 180_000);

  it('replays in place up to a time, then the live projector continues from there', async () => {
    const { rows } = await sql.query<{ middle: Date; position: string }>(
      `SELECT recorded_at AS middle, global_position::text AS position FROM event_store.events
        ORDER BY transaction_id, global_position OFFSET 150 LIMIT 1`,
    );
    const middle = rows[0];
    if (!middle) throw new Error('no events stored');
    const expected = await sql.query<{ position: string }>(
      `SELECT global_position::text AS position FROM event_store.events WHERE recorded_at <= $1
        ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      [middle.middle],
    );
    const rebuild = await finished(
      admin('POST', '/rebuild', { until: middle.middle.toISOString() }),
    );
    expect(rebuild).toMatchObject({ status: 'completed', mode: 'rebuild' });
    expect(String((rebuild as unknown as { targetPosition: number }).targetPosition)).toBe(
      expected.rows[0]?.position,
    );
    await eventually(() => countsAre(0), 60_000);
    const early = await admin('POST', '/rebuild', { until: '2001-01-01T00:00:00Z' });
    expect(early.status).toBe(400);
    expect(await early.json()).toMatchObject({ error: { code: 'INVALID_RANGE' } });
    const garbled = await admin('POST', '/rebuild', { until: 'yesterday' });
    expect(garbled.status).toBe(400);
  }, 120_000);

  it('resets a projection: emptied at once, then replayed from zero by the live projector', async () => {
    const { stdout } = await run(process.execPath, [
      path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
      '--url',
      server.url,
      '--key',
      keys.apiKey,
      'projections',
      'reset',
      'customer_activity',
    ]);
    expect(stdout).toMatch(/\(reset\): completed/);
    expect(stdout).toContain('replays customer_activity from position zero');
    await eventually(() => countsAre(0), 60_000);
    const audit = await sql.query(
      `SELECT outcome FROM access.audit_log WHERE action = 'projection.reset' ORDER BY id DESC LIMIT 1`,
    );
    expect(audit.rows[0]).toEqual({ outcome: 'done' });
  }, 120_000);

  it('refuses what it cannot do, with nothing changed', async () => {
    const bogus = await admin('POST', '/rebuild', { strategy: 'sideways' });
    expect(bogus.status).toBe(400);
    expect(await bogus.json()).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    const ranged = await admin('POST', '/rebuild', { strategy: 'blue-green', to: 1 });
    expect(ranged.status).toBe(400);
    const stillThere = await sql.query(
      'SELECT count(*)::int AS n FROM read_models.customer_activity WHERE customer_key = ANY($1)',
      [users.map((u) => `user:${u}`)],
    );
    expect(stillThere.rows[0]).toEqual({ n: users.length });
  });
});
