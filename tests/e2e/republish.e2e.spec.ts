import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeEnvelopeOrThrow, decodeEventDataOrThrow } from '@touchline/contracts';
import type { TestDatabase } from '@touchline/platform/testing';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import {
  basicAuth,
  eventually,
  REPO_ROOT,
  type ServerProcess,
  startServer,
} from './support/server-process';
import { kafkaBrokers, postgresTarget } from './support/services';

const run = promisify(execFile);

interface JobView {
  name: string;
  topic: string;
  status: string;
  fromPosition: number | null;
  toPosition: number;
  checkpointPosition: number;
  eventsPublished: number;
  targetEvents: number;
  eventsPerSecond: number | null;
  percent: number;
  etaSeconds: number | null;
  runs: number;
  runStartedAt: string;
  finishedAt: string | null;
  errorCode: string | null;
}

interface StoredEvent {
  event_id: string;
  stream_id: string;
  position: string;
}

interface Consumed {
  key: string;
  eventId: string;
  streamId: string;
  position: number;
  job: string;
  partition: number;
  offset: number;
}

const adminRequest = (url: string, apiKey: string, route: string, init: RequestInit = {}) =>
  fetch(`${url}${route}`, {
    ...init,
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': 'application/json',
      ...init.headers,
    },
  });

// Kafka is required; the database is PostgreSQL when TOUCHLINE_TEST_DATABASE_URL is set,
// otherwise the embedded one. Without a broker the suite says why it is skipped (the global
// setup fails the run instead under TOUCHLINE_REQUIRE_SERVICES=1).
const kafkaSkipReason = process.env['TOUCHLINE_E2E_KAFKA_BROKERS']
  ? undefined
  : (process.env['TOUCHLINE_E2E_FULL_SKIP']
      ?.split('; ')
      .filter((reason) => /kafka/i.test(reason))
      .join('; ') ?? 'no Kafka broker was found');
const describeWithKafka = kafkaSkipReason === undefined ? describe : describe.skip;
const withPostgres = process.env['TOUCHLINE_TEST_DATABASE_URL'] !== undefined;

/**
 * Republish of the stored history to a Kafka topic, against a real server and a real broker:
 * every stored event arrives once with its key and a decodable envelope; a cancelled job
 * resumes from its checkpoint (at-least-once, not from zero); the throttle holds; refusals
 * change nothing.
 */
describeWithKafka(
  `republish to Kafka (${withPostgres ? 'PostgreSQL' : 'embedded database'})${kafkaSkipReason ? `: skipped, ${kafkaSkipReason}` : ''}`,
  () => {
    let database: TestDatabase | undefined;
    let dataDir: string;
    let server: ServerProcess;
    let apiKey: string;
    let db: Client;
    let kafka: Kafka;
    let kafkaAdmin: Admin;
    let stored: StoredEvent[];
    const runId = randomUUID().slice(0, 8);
    const prefix = `tl-e2e-rp-${runId}`;
    const customers = 25;
    const total = 600;

    const admin = (route: string, init: RequestInit = {}) =>
      adminRequest(server.url, apiKey, route, init);
    const cli = (...args: string[]) =>
      run(process.execPath, [
        path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
        ...['--url', server.url, '--key', apiKey, ...args],
      ]);
    const post = (body: unknown) =>
      admin('/v1/admin/republish', { method: 'POST', body: JSON.stringify(body) });
    const job = async (name: string): Promise<JobView> =>
      ((await (await admin(`/v1/admin/republish/${name}`)).json()) as { job: JobView }).job;
    const finished = (name: string) =>
      eventually(
        async () => {
          const view = await job(name);
          return view.status === 'running' ? undefined : view;
        },
        60_000,
        100,
      );
    const newTopic = async (suffix: string): Promise<string> => {
      const topic = `${prefix}.${suffix}`;
      await kafkaAdmin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: 3 }],
      });
      return topic;
    };
    const topicSize = async (topic: string): Promise<number> =>
      (await kafkaAdmin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);

    /** Everything in the topic, read to the high watermark of each partition. */
    const consumeAll = async (topic: string): Promise<Consumed[]> => {
      const ends = await kafkaAdmin.fetchTopicOffsets(topic);
      const expected = ends.reduce((sum, p) => sum + Number(p.high), 0);
      const consumer = kafka.consumer({ groupId: `${prefix}-reader-${randomUUID()}` });
      const messages: Consumed[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: ({ partition, message }) => {
            const envelope = decodeEnvelopeOrThrow(message.value ?? Buffer.alloc(0));
            const data = decodeEventDataOrThrow(envelope.data);
            expect(data.type).toBe(envelope.type);
            messages.push({
              key: message.key?.toString('utf8') ?? '',
              eventId: envelope.eventId,
              streamId: envelope.streamId,
              position: Number(message.headers?.['touchline-global-position']?.toString()),
              job: message.headers?.['touchline-republish-job']?.toString() ?? '',
              partition,
              offset: Number(message.offset),
            });
            return Promise.resolve();
          },
        });
        await eventually(
          () => Promise.resolve(messages.length >= expected ? true : undefined),
          60_000,
          100,
        );
      } finally {
        await consumer.disconnect();
      }
      return messages;
    };

    beforeAll(async () => {
      const brokers = kafkaBrokers();
      kafka = new Kafka({ clientId: prefix, brokers, logLevel: logLevel.NOTHING });
      kafkaAdmin = kafka.admin();
      await kafkaAdmin.connect();
      dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-republish-'));
      database = withPostgres ? await postgresTarget().create() : undefined;
      server = await startServer({
        TOUCHLINE_DATA_DIR: dataDir,
        KAFKA_BROKERS: brokers.join(','),
        TOUCHLINE_TOPIC_PREFIX: prefix,
        KAFKA_TOPIC_PARTITIONS: '3',
        ...(database ? { DATABASE_URL: database.url } : {}),
      });
      const credentials = JSON.parse(
        await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
      ) as { apiKey: string; writeKey: string };
      apiKey = credentials.apiKey;
      const databaseUrl =
        database?.url ??
        (server.logs.find((l) => l.msg === 'embedded database started')?.[
          'embeddedDatabaseUrl'
        ] as string);
      db = new Client({ connectionString: databaseUrl });
      await db.connect();

      for (let batch = 0; batch < total / 200; batch += 1) {
        const response = await fetch(`${server.url}/v1/batch`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: basicAuth(credentials.writeKey),
          },
          body: JSON.stringify({
            batch: Array.from({ length: 200 }, (_, i) => ({
              type: 'track',
              userId: `rp-${runId}-${(batch * 200 + i) % customers}`,
              event: i % 2 === 0 ? 'Viewed Plan' : 'Clicked Upgrade',
              messageId: `rp-${runId}-${batch}-${i}`,
            })),
          }),
        });
        expect(response.status).toBe(200);
      }
      // Through Kafka to the recorder: wait until every event is stored.
      stored = await eventually(
        async () => {
          const { rows } = await db.query<StoredEvent>(
            `SELECT event_id, stream_id, global_position::text AS position
               FROM event_store.events ORDER BY transaction_id, global_position`,
          );
          return rows.length >= total ? rows : undefined;
        },
        60_000,
        200,
      );
      expect(stored).toHaveLength(total);
    }, 180_000);

    afterAll(async () => {
      await db?.end();
      await server?.stop();
      await kafkaAdmin?.disconnect();
      await database?.drop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('publishes every stored event exactly once, keyed by its stream, as a decodable envelope', async () => {
      const topic = await newTopic('all');
      const response = await post({ topic });
      expect(response.status).toBe(202);
      const started = ((await response.json()) as { job: JobView }).job;
      expect(started).toMatchObject({ name: topic, topic, status: 'running', targetEvents: total });

      const done = await finished(topic);
      expect(done).toMatchObject({
        status: 'completed',
        eventsPublished: total,
        targetEvents: total,
        percent: 100,
        checkpointPosition: Number(stored[stored.length - 1]!.position),
      });

      const messages = await consumeAll(topic);
      expect(messages).toHaveLength(total);
      const byId = new Map(stored.map((e) => [e.event_id, e]));
      expect(new Set(messages.map((m) => m.eventId)).size).toBe(total);
      for (const message of messages) {
        const event = byId.get(message.eventId);
        expect(event).toBeDefined();
        expect(message.key).toBe(event!.stream_id);
        expect(message.streamId).toBe(event!.stream_id);
        expect(message.position).toBe(Number(event!.position));
        expect(message.job).toBe(topic);
      }
      // One customer's events sit in one partition, in the store's order.
      const storeOrder = new Map(stored.map((e, i) => [e.event_id, i]));
      const perKey = new Map<string, Consumed[]>();
      for (const m of messages) perKey.set(m.key, [...(perKey.get(m.key) ?? []), m]);
      for (const list of perKey.values()) {
        expect(new Set(list.map((m) => m.partition)).size).toBe(1);
        const order = list.map((m) => storeOrder.get(m.eventId)!);
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
    });

    it('resumes a cancelled job from its checkpoint: everything arrives, at most one send twice', async () => {
      const topic = await newTopic('resume');
      const name = `resume-${runId}`;
      const rate = 200;
      const chunk = rate / 5;
      expect((await post({ topic, name, rateLimit: rate })).status).toBe(202);
      await eventually(
        async () => ((await job(name)).eventsPublished >= 150 ? true : undefined),
        30_000,
        50,
      );
      const cancel = await admin(`/v1/admin/republish/${name}`, { method: 'DELETE' });
      expect(cancel.status).toBe(200);
      const cancelled = await finished(name);
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.eventsPublished).toBeGreaterThanOrEqual(150);
      expect(cancelled.eventsPublished).toBeLessThan(total);
      // Acknowledged before the checkpoint moved: what Kafka holds is what the job counted.
      expect(await topicSize(topic)).toBeGreaterThanOrEqual(cancelled.eventsPublished);
      expect(await topicSize(topic)).toBeLessThanOrEqual(cancelled.eventsPublished + chunk);

      const resumed = await post({ name, topic, resume: true, rateLimit: 5_000 });
      expect(resumed.status).toBe(202);
      expect(((await resumed.json()) as { job: JobView }).job).toMatchObject({
        status: 'running',
        runs: 2,
      });
      const done = await finished(name);
      expect(done).toMatchObject({ status: 'completed', eventsPublished: total, runs: 2 });

      const messages = await consumeAll(topic);
      const ids = new Set(messages.map((m) => m.eventId));
      expect(ids).toEqual(new Set(stored.map((e) => e.event_id)));
      // Not restarted from zero: at most the last unacknowledged send came twice.
      expect(messages.length).toBeLessThanOrEqual(total + chunk);
      expect(messages.length - ids.size).toBeLessThanOrEqual(chunk);
    });

    it('holds the requested rate', async () => {
      const topic = await newTopic('rate');
      const rate = 300;
      const began = Date.now();
      expect((await post({ topic, rateLimit: rate })).status).toBe(202);
      const done = await finished(topic);
      const seconds = (Date.now() - began) / 1000;
      expect(done.status).toBe('completed');
      expect(total / seconds).toBeLessThanOrEqual(rate * 1.5);
      expect(done.eventsPerSecond).not.toBeNull();
      expect(done.eventsPerSecond!).toBeLessThanOrEqual(rate * 1.5);
      expect(await topicSize(topic)).toBe(total);
    });

    it('republishes a range of positions from the CLI, with a progress bar', async () => {
      const topic = await newTopic('range');
      const from = Number(stored[100]!.position);
      const to = Number(stored[299]!.position);
      const name = `range-${runId}`;
      const started = await cli(
        ...['republish', 'start', topic, '--from', String(from), '--to', String(to)],
        ...['--rate', '1000', '--name', name],
      );
      expect(started.stdout).toContain(`Republish job ${name} to ${topic}`);
      expect(started.stdout).toContain('completed, 200 of 200 events');
      expect(started.stderr).toMatch(/range-\w+ \[#+-*\]\s+[\d.]+%\s+\d+\/200 events\s+\S+ ev\/s/);

      const messages = await consumeAll(topic);
      expect(messages.map((m) => m.eventId).sort()).toEqual(
        // The range is global order from one event to the other, not position numbers.
        stored
          .slice(100, 300)
          .map((e) => e.event_id)
          .sort(),
      );
      const shown = await cli('republish', 'show', name);
      expect(shown.stdout).toContain(`positions ${from} to ${to}`);
      // A completed job has nothing to resume: the CLI says so and exits non-zero.
      await expect(
        cli('republish', 'start', topic, '--name', name, '--resume'),
      ).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('409 JOB_COMPLETED') as unknown,
      });
    });

    it('refuses bad requests, a second start and unknown topics, changing nothing', async () => {
      const jobsBefore = (await (await admin('/v1/admin/republish')).json()) as {
        items: JobView[];
      };
      const target = await newTopic('refusals');
      const topicsBefore = (await kafkaAdmin.listTopics()).sort();
      const expectRefused = async (body: unknown, status: number, code: string, says: string) => {
        const response = await post(body);
        const answer = (await response.json()) as { error: { code: string; message: string } };
        expect({ status: response.status, code: answer.error.code }).toEqual({ status, code });
        expect(answer.error.message).toContain(says);
      };

      const missingTopic = `${prefix}.does-not-exist`;
      await expectRefused({ topic: missingTopic }, 400, 'UNKNOWN_TOPIC', missingTopic);
      await expectRefused(
        { topic: 'bad topic', rateLimit: -1, from: 'soon', extra: 1 },
        400,
        'INVALID_REQUEST',
        'rateLimit',
      );
      await expectRefused({ topic: `${prefix}.web.v1` }, 400, 'INVALID_REQUEST', 'ingest topic');
      const head = Number(stored[stored.length - 1]!.position);
      await expectRefused(
        { topic: target, from: head + 1000 },
        400,
        'INVALID_RANGE',
        `position ${head + 1000}`,
      );
      await expectRefused(
        { topic: target, to: '2000-01-01T00:00:00Z' },
        400,
        'INVALID_RANGE',
        '2000-01-01T00:00:00.000Z',
      );
      await expectRefused(
        { topic: target, from: stored[10]!.position, to: stored[5]!.position },
        400,
        'INVALID_RANGE',
        'comes after',
      );
      await expectRefused({ name: `nobody-${runId}`, resume: true }, 404, 'UNKNOWN_JOB', 'nobody');
      const jobsAfterRefusals = (await (await admin('/v1/admin/republish')).json()) as {
        items: JobView[];
      };
      expect(jobsAfterRefusals.items.map((j) => j.name)).toEqual(
        jobsBefore.items.map((j) => j.name),
      );
      expect(await topicSize(target)).toBe(0);

      // A second start of a running job, and its resume, are refused; it keeps running.
      const name = `slow-${runId}`;
      expect((await post({ topic: target, name, rateLimit: 20 })).status).toBe(202);
      await expectRefused({ topic: target, name }, 409, 'JOB_RUNNING', 'already running');
      await expectRefused({ name, resume: true }, 409, 'JOB_RUNNING', 'already running');
      expect((await job(name)).status).toBe('running');
      expect((await admin(`/v1/admin/republish/${name}`, { method: 'DELETE' })).status).toBe(200);
      expect((await finished(name)).status).toBe('cancelled');
      await expectRefused({ topic: target, name }, 409, 'JOB_EXISTS', 'resume');
      const noneRunning = await admin(`/v1/admin/republish/${name}`, { method: 'DELETE' });
      expect(noneRunning.status).toBe(404);

      // Refusals created no topic.
      expect((await kafkaAdmin.listTopics()).sort()).toEqual([...topicsBefore].sort());

      // A range by store time resolves to the stored events inside it.
      const byTime = await post({
        topic: target,
        name: `time-${runId}`,
        from: '2000-01-01T00:00:00Z',
        to: new Date(Date.now() + 3_600_000).toISOString(),
        rateLimit: 10,
      });
      expect(byTime.status).toBe(202);
      expect(((await byTime.json()) as { job: JobView }).job).toMatchObject({
        fromPosition: Number(stored[0]!.position),
        toPosition: head,
        targetEvents: total,
      });
      expect((await admin(`/v1/admin/republish/time-${runId}`, { method: 'DELETE' })).status).toBe(
        200,
      );
      const audit = await db.query<{ action: string; outcome: string; reason: string | null }>(
        `SELECT action, outcome, details->>'reason' AS reason FROM access.audit_log
          WHERE action LIKE 'republish.%' ORDER BY id`,
      );
      expect(audit.rows).toEqual(
        expect.arrayContaining([
          { action: 'republish.start', outcome: 'refused', reason: 'UNKNOWN_TOPIC' },
          { action: 'republish.start', outcome: 'refused', reason: 'INVALID_RANGE' },
          { action: 'republish.start', outcome: 'refused', reason: 'JOB_RUNNING' },
          { action: 'republish.resume', outcome: 'not-found', reason: 'UNKNOWN_JOB' },
          { action: 'republish.cancel', outcome: 'done', reason: null },
          { action: 'republish.start', outcome: 'done', reason: null },
        ]),
      );
    });
  },
);

describe('republish without a Kafka broker (embedded mode)', () => {
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-republish-embedded-'));
    server = await startServer({ TOUCHLINE_DATA_DIR: dataDir });
    apiKey = (
      JSON.parse(await readFile(path.join(dataDir, 'credentials.json'), 'utf8')) as {
        apiKey: string;
      }
    ).apiKey;
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses to start, saying a broker is needed', async () => {
    const response = await adminRequest(server.url, apiKey, '/v1/admin/republish', {
      method: 'POST',
      body: JSON.stringify({ topic: 'anything' }),
    });
    expect(response.status).toBe(409);
    const answer = (await response.json()) as { error: { code: string; message: string } };
    expect(answer.error.code).toBe('KAFKA_REQUIRED');
    expect(answer.error.message).toContain('KAFKA_BROKERS');
    const list = (await (await adminRequest(server.url, apiKey, '/v1/admin/republish')).json()) as {
      items: unknown[];
    };
    expect(list.items).toEqual([]);
  });
});
