import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestDatabase } from '@touchline/platform/testing';
import {
  basicAuth,
  eventually,
  REPO_ROOT,
  type ServerProcess,
  startServer,
} from './support/server-process';
import { describeFullMode, postgresTarget } from './support/services';

const run = promisify(execFile);

/**
 * Kafka stops answering while the collector runs (its own broker, frozen with SIGSTOP, so other
 * suites keep theirs): the collector answers 503 with Retry-After, never 200, and accepts again
 * by itself once the broker is back.
 */
describeFullMode('when Kafka is away', () => {
  let stateDir: string;
  let brokerPid: number;
  let brokers: string;
  let database: TestDatabase;
  let dataDir: string;
  let server: ServerProcess;
  let keys: { writeKey: string; apiKey: string };
  const script = (name: string) => path.join(REPO_ROOT, 'infra/kafka', name);

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'touchline-kafka-outage-'));
    await run('bash', [script('start.sh')], {
      env: { ...process.env, KAFKA_STATE_DIR: stateDir, KAFKA_PORT: '' },
    });
    brokers = (await readFile(path.join(stateDir, 'broker.env'), 'utf8'))
      .trim()
      .replace(/^KAFKA_BROKERS=/, '');
    brokerPid = Number(await readFile(path.join(stateDir, 'broker.pid'), 'utf8'));
    database = await postgresTarget().create();
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-kafka-outage-data-'));
    server = await startServer({
      DATABASE_URL: database.url,
      KAFKA_BROKERS: brokers,
      TOUCHLINE_DATA_DIR: dataDir,
      KAFKA_TOPIC_PARTITIONS: '2',
    });
    keys = JSON.parse(
      await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
    ) as typeof keys;
  }, 180_000);

  afterAll(async () => {
    if (brokerPid) process.kill(brokerPid, 'SIGCONT');
    await server?.stop();
    if (stateDir) {
      await run('bash', [script('stop.sh')], {
        env: { ...process.env, KAFKA_STATE_DIR: stateDir },
      });
      await rm(stateDir, { recursive: true, force: true });
    }
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const track = (userId: string, event: string) =>
    fetch(`${server.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(keys.writeKey) },
      body: JSON.stringify({ userId, event, messageId: `${userId}-${event}` }),
    });

  it('answers 503 with Retry-After while the broker is frozen, and accepts again when it returns', async () => {
    const userId = `kafka-outage-${randomUUID()}`;
    expect((await track(userId, 'Before')).status).toBe(200);

    process.kill(brokerPid, 'SIGSTOP');
    const refused = await track(userId, 'During');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });

    process.kill(brokerPid, 'SIGCONT');
    const accepted = await eventually(
      async () => {
        const response = await track(userId, 'After');
        return response.status === 200 ? response : undefined;
      },
      60_000,
      500,
    );
    expect(accepted.status).toBe(200);
    const summary = await eventually(
      async () => {
        const response = await fetch(`${server.url}/v1/customers/${userId}`, {
          headers: { authorization: `Bearer ${keys.apiKey}` },
        });
        const body =
          response.status === 200
            ? ((await response.json()) as { lastContact: { name: string } })
            : undefined;
        return body?.lastContact.name === 'After' ? body : undefined;
      },
      60_000,
      500,
    );
    expect(summary.lastContact.name).toBe('After');
  });
});
