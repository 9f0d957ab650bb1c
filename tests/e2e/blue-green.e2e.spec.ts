import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { TestDatabase } from '@touchline/platform/testing';
import { eventually, REPO_ROOT, type ServerProcess, startServer } from './support/server-process';
import { RoundRobinSender } from './support/round-robin-sender';
import { describeFullMode, postgresTarget } from './support/services';

const run = promisify(execFile);

interface Rebuild {
  id: string;
  status: string;
  mode: string;
  errorCode: string | null;
  errorMessage: string | null;
  diff: { table: string; onlyInLive: number; onlyInRebuilt: number; sampleKeys: string[] }[] | null;
}
interface View {
  builtVersion: number | null;
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

  const admin = async (method: string, route: string, body?: unknown): Promise<Response> =>
    fetch(`${server.url}/v1/admin/projections/customer_activity${route}`, {
      method,
      headers: {
        authorization: `Bearer ${keys.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const view = async (): Promise<View> => (await (await admin('GET', '')).json()) as View;
  /** Start a rebuild (or rollback) and wait until it is no longer running. */
  const finished = async (start: Promise<Response>): Promise<Rebuild> => {
    const answer = await start;
    expect(answer.status).toBe(202);
    const { rebuild } = (await answer.json()) as { rebuild: Rebuild };
    return eventually(
      async () => {
        const latest = (await view()).rebuild;
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

  it('rebuilds blue/green by itself when the code is newer than the version that built the rows', async () => {
    // As if the rows had been built by version 0 of the projection's code.
    await sql.query(
      `UPDATE projections.checkpoints SET version = 0 WHERE projection = 'customer_activity'`,
    );
    expect((await view()).builtVersion).toBe(0);
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
      'SELECT count(*)::int AS n FROM read_models.customer_activity',
    );
    expect(stillThere.rows[0]).toEqual({ n: users.length });
  });
});
