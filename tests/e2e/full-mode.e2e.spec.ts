import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { TestDatabase } from '@touchline/platform/testing';
import { basicAuth, eventually, type ServerProcess, startServer } from './support/server-process';
import { storedStreamId } from './support/pseudonym';
import { describeFullMode, kafkaBrokers, postgresTarget } from './support/services';

/**
 * Full mode with every role in its own process, over a real Kafka and PostgreSQL: events posted
 * to the collector are read back from the query process, and crashing the recorder or the
 * projector with SIGKILL at arbitrary points neither loses nor doubles anything.
 */
describeFullMode('full mode (Kafka + PostgreSQL), one process per role', () => {
  let database: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;
  const processes = new Map<string, ServerProcess>();
  let writeKey: string;
  let apiKey: string;
  let sql: Client;

  const start = async (role: string): Promise<ServerProcess> => {
    const server = await startServer({ ...env, TOUCHLINE_ROLES: role });
    processes.set(role, server);
    return server;
  };
  const url = (role: string): string => {
    const server = processes.get(role);
    if (!server) throw new Error(`${role} is not running`);
    return server.url;
  };

  beforeAll(async () => {
    database = await postgresTarget().create();
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-full-'));
    env = {
      DATABASE_URL: database.url,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      TOUCHLINE_TOPIC_PREFIX: `tl-e2e-${randomUUID().slice(0, 8)}`,
      KAFKA_TOPIC_PARTITIONS: '3',
      TOUCHLINE_DATA_DIR: dataDir,
    };
    // Migrations and first-start keys race safely: start the roles together.
    await Promise.all(['collector', 'recorder', 'projector', 'query'].map(start));
    const credentials = JSON.parse(
      await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
    ) as {
      writeKey: string;
      apiKey: string;
    };
    writeKey = credentials.writeKey;
    apiKey = credentials.apiKey;
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    await Promise.all([...processes.values()].map((p) => p.stop()));
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const sendBatch = async (messages: readonly Record<string, unknown>[]): Promise<Response> =>
    fetch(`${url('collector')}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
      body: JSON.stringify({ batch: messages }),
    });

  /** Events stored under these stream ids, each kept under its pseudonym (crypto-shredding). */
  const storedCount = async (streamIds: readonly string[]): Promise<number> => {
    const result = await sql.query<{ n: string }>(
      'SELECT count(*) AS n FROM event_store.events WHERE stream_id = ANY($1::text[])',
      [streamIds.map((id) => storedStreamId(dataDir, id))],
    );
    return Number(result.rows[0]?.n);
  };

  const projectedTotal = async (prefix: string): Promise<number> => {
    const result = await sql.query<{ n: string | null }>(
      'SELECT sum(total_events) AS n FROM read_models.customer_activity WHERE customer_key LIKE $1',
      [`${prefix}%`],
    );
    return Number(result.rows[0]?.n ?? 0);
  };

  it('reads back through the query role what was posted to the collector role', async () => {
    const userId = `full-${randomUUID()}`;
    const response = await fetch(`${url('collector')}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
      body: JSON.stringify({ userId, event: 'Trial Started', properties: { plan: 'team' } }),
    });
    expect(response.status).toBe(200);
    const summary = await eventually(async () => {
      const res = await fetch(`${url('query')}/v1/customers/${userId}`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
    });
    expect(summary).toMatchObject({
      customerKey: `user:${userId}`,
      totalEvents: 1,
      lastContact: { name: 'Trial Started' },
    });
    // The stored event keeps where it came from.
    const row = await sql.query<{ metadata: Record<string, unknown> }>(
      'SELECT metadata FROM event_store.events WHERE stream_id = $1',
      [storedStreamId(dataDir, `user:${userId}`)],
    );
    expect(row.rows[0]?.metadata).toMatchObject({
      channel: 'web',
      sourceTopic: `${env['TOUCHLINE_TOPIC_PREFIX']}.web.v1`,
    });
  });

  it('loses and doubles nothing when the recorder and the projector are killed mid-stream', async () => {
    const run = `crash-${randomUUID().slice(0, 8)}`;
    const customers = 40;
    const batches = 30;
    const perBatch = 50;
    let sent = 0;
    const sending = (async () => {
      for (let b = 0; b < batches; b += 1) {
        const messages = Array.from({ length: perBatch }, (_, i) => ({
          type: 'track',
          userId: `${run}-${(b * perBatch + i) % customers}`,
          event: 'Page Scrolled',
          messageId: `${run}-${b}-${i}`,
        }));
        const response = await sendBatch(messages);
        expect(response.status).toBe(200);
        sent += perBatch;
        // A client retry of the same batch must not double anything.
        if (b % 7 === 0) expect((await sendBatch(messages)).status).toBe(200);
      }
    })();
    // Crash both consumers at arbitrary points while events flow, then bring them back.
    for (let crash = 0; crash < 3; crash += 1) {
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 700));
      await processes.get('recorder')?.kill();
      await processes.get('projector')?.kill();
      await Promise.all([start('recorder'), start('projector')]);
    }
    await sending;
    expect(sent).toBe(batches * perBatch);
    const prefix = `user:${run}-`;
    const streams = Array.from({ length: customers }, (_, i) => `${prefix}${i}`);
    await eventually(
      async () => ((await storedCount(streams)) >= sent ? true : undefined),
      60_000,
      250,
    );
    await eventually(
      async () => ((await projectedTotal(prefix)) >= sent ? true : undefined),
      60_000,
      250,
    );
    // Settle, then the exact figures: every event once in the store, once in the read model.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await storedCount(streams)).toBe(sent);
    expect(await projectedTotal(prefix)).toBe(sent);
  });
});
