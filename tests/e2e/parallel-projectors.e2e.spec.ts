import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { TestDatabase } from '@touchline/platform/testing';
import { eventually, type ServerProcess, startServer } from './support/server-process';
import { RoundRobinSender } from './support/round-robin-sender';
import { describeFullMode, postgresTarget } from './support/services';

const SEGMENTS = 4;
const PROJECTION = 'customer_activity';

interface Ready {
  projectors: { projection: string; state: string }[];
}

/**
 * Parallel projectors with real processes over PostgreSQL: customer_activity split into four
 * segments, run by one, then three projector processes; one is killed with SIGKILL. Each segment
 * has one owner at a time, more processes spread the segments, a dead one's segments are taken
 * over within a bounded time, and through every hand-over each event is applied exactly once.
 */
describeFullMode('parallel projectors: segments spread over processes', () => {
  let database: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;
  let ingest: ServerProcess;
  const projectors: ServerProcess[] = [];
  let writeKey: string;
  let sql: Client;
  const runId = randomUUID().slice(0, 8);
  const users = Array.from({ length: 60 }, (_, i) => `seg-${runId}-${i}`);
  /** Events sent per user: what customer_activity must count, no more and no less. */
  const sender = new RoundRobinSender(users, 'Segment Test', `seg-${runId}`);
  const sent = sender.sent;

  const startProjector = async (): Promise<ServerProcess> => {
    const server = await startServer({ ...env, TOUCHLINE_ROLES: 'projector' });
    projectors.push(server);
    return server;
  };

  /** Segments each process runs now, from its readiness report. */
  const owned = async (server: ServerProcess): Promise<string[]> => {
    const answer = (await (await fetch(`${server.url}/health/ready`)).json()) as Ready;
    return answer.projectors
      .filter((p) => p.projection.startsWith(`${PROJECTION}#`) && p.state === 'running')
      .map((p) => p.projection)
      .sort();
  };

  const send = (count: number): Promise<void> => sender.send(ingest.url, writeKey, count);

  /** Every user's activity count equals what was sent: no event lost, none applied twice. */
  const countsMatch = async (): Promise<true | undefined> => {
    const { rows } = await sql.query<{ customer_key: string; total_events: number }>(
      `SELECT customer_key, total_events FROM read_models.customer_activity
        WHERE customer_key = ANY($1::text[])`,
      [users.map((u) => `user:${u}`)],
    );
    const counted = new Map(rows.map((r) => [r.customer_key, r.total_events]));
    for (const [userId, count] of sent) {
      const got = counted.get(`user:${userId}`);
      if (got === undefined || got < count) return undefined; // still catching up
      expect(got).toBe(count); // more than sent: an event applied twice
    }
    return true;
  };

  beforeAll(async () => {
    database = await postgresTarget().create();
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-segments-'));
    env = {
      DATABASE_URL: database.url,
      TOUCHLINE_DATA_DIR: dataDir,
      TOUCHLINE_PROJECTION_SEGMENTS: `${PROJECTION}=${String(SEGMENTS)}`,
    };
    // Collector, recorder and query together (in-process transport); projectors apart.
    ingest = await startServer({ ...env, TOUCHLINE_ROLES: 'collector,recorder,query' });
    writeKey = (
      JSON.parse(await readFile(path.join(dataDir, 'credentials.json'), 'utf8')) as {
        writeKey: string;
      }
    ).writeKey;
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await Promise.all([ingest, ...projectors].map((p) => p?.stop()));
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('one process owns every segment and applies each event once', async () => {
    const first = await startProjector();
    await eventually(async () => ((await owned(first)).length === SEGMENTS ? true : undefined));
    await send(600);
    await eventually(countsMatch, 60_000);
    const { rows } = await sql.query<{ projection: string }>(
      `SELECT projection FROM projections.checkpoints WHERE starts_with(projection, $1) ORDER BY 1`,
      [`${PROJECTION}#`],
    );
    expect(rows.map((r) => r.projection)).toEqual(
      Array.from({ length: SEGMENTS }, (_, i) => `${PROJECTION}#${String(i)}/${String(SEGMENTS)}`),
    );
  }, 120_000);

  it('more processes spread the segments, each owned once, while events keep arriving', async () => {
    const sending = send(1_500);
    await Promise.all([startProjector(), startProjector()]);
    const spread = await eventually(
      async () => {
        const shares = await Promise.all(projectors.map(owned));
        const all = shares.flat();
        // Settled: every segment runs, in one process each, and every process has a share.
        return all.length === SEGMENTS &&
          new Set(all).size === SEGMENTS &&
          shares.every((s) => s.length >= 1)
          ? shares
          : undefined;
      },
      45_000,
      250,
    );
    expect(spread.map((s) => s.length).sort()).toEqual([1, 1, 2]);
    await sending;
    await eventually(countsMatch, 60_000);
  }, 150_000);

  it('takes over the segments of a process killed with SIGKILL within a bounded time', async () => {
    const shares = await Promise.all(projectors.map(owned));
    const victimIndex = shares.findIndex(
      (s) => s.length === Math.max(...shares.map((x) => x.length)),
    );
    const victim = projectors[victimIndex];
    if (!victim) throw new Error('no projector to kill');
    const survivors = projectors.filter((p) => p !== victim);
    const sending = send(900);
    await victim.kill();
    projectors.splice(victimIndex, 1);
    const killedAt = Date.now();
    const settled = await eventually(
      async () => {
        const now = await Promise.all(survivors.map(owned));
        const all = now.flat();
        // Settled: every segment runs, once, and the two survivors share them evenly.
        return all.length === SEGMENTS &&
          new Set(all).size === SEGMENTS &&
          now.every((s) => s.length === SEGMENTS / 2)
          ? now
          : undefined;
      },
      30_000,
      250,
    );
    const takeoverMs = Date.now() - killedAt;
    // The heartbeat timeout (5 s) plus a second's retry, with room for a loaded machine.
    expect(takeoverMs).toBeLessThan(15_000);
    expect(settled.map((s) => s.length).sort()).toEqual([2, 2]);
    await sending;
    await eventually(countsMatch, 60_000);
    process.stdout.write(`segments taken over ${takeoverMs} ms after SIGKILL\n`);
  }, 150_000);
});
