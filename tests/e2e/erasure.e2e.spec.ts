import { execFile } from 'node:child_process';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeEnvelopeOrThrow, decodeEventDataOrThrow } from '@touchline/contracts';
import type { TestDatabase } from '@touchline/platform/testing';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { masterKeyOf, openedEvents, openSealed, unwrapSubjectKey } from './support/pseudonym';
import {
  basicAuth,
  eventually,
  REPO_ROOT,
  type ServerProcess,
  startServer,
} from './support/server-process';
import { describeFullMode, kafkaBrokers, postgresTarget } from './support/services';

const run = promisify(execFile);

interface Person {
  userId: string;
  anonymousId: string;
  email: string;
  phone: string;
  name: string;
  ip: string;
}

interface Message {
  key: string;
  eventId: string;
  bytes: string;
  data: Record<string, unknown>;
}

const person = (first: string): Person => {
  const tag = randomUUID().slice(0, 8);
  return {
    userId: `${first}-${tag}`,
    anonymousId: `anon-${first}-${tag}`,
    email: `${first}.${tag}@example.com`,
    // A UK drama number (01632 96xxxx), random per run so no two people share one.
    phone: `+44163296${String(randomInt(0, 10_000)).padStart(4, '0')}`,
    name: `${first[0]!.toUpperCase()}${first.slice(1)} Q${tag}`,
    ip: `2001:db8::${tag.slice(0, 4)}:${tag.slice(4, 8)}`,
  };
};

/** What of a person can identify them: none of it may survive an erasure anywhere. */
const secretsOf = (p: Person) => [p.userId, p.anonymousId, p.email, p.phone, p.name, p.ip];

/**
 * Erasure (right to be forgotten) over a real PostgreSQL and Kafka: after one admin call, the
 * person's data cannot be recovered from the event store, from Kafka topics written after
 * recording (republished before or after the erasure), or from any read model; a replay from
 * zero still works and still shows nothing of them; another customer is untouched.
 */
describeFullMode('customer erasure (crypto-shredding), PostgreSQL + Kafka', () => {
  let database: TestDatabase;
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;
  let writeKey: string;
  let sql: Client;
  let kafka: Kafka;
  let kafkaAdmin: Admin;
  const prefix = `tl-e2e-erase-${randomUUID().slice(0, 8)}`;
  const ada = person('ada');
  const grace = person('grace');
  const customerIds: Record<'ada' | 'grace', string> = { ada: '', grace: '' };

  const admin = (route: string, init: RequestInit = {}) =>
    fetch(`${server.url}${route}`, {
      ...init,
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    });
  const cli = (...args: string[]) =>
    run(process.execPath, [
      path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
      ...['--url', server.url, '--key', apiKey, ...args],
    ]);

  const send = async (p: Person) => {
    const context = { ip: p.ip, userAgent: 'Mozilla/5.0 (erasure test)' };
    const batch = [
      {
        type: 'identify',
        userId: p.userId,
        anonymousId: p.anonymousId,
        traits: { email: p.email, phone: p.phone, name: p.name, plan: 'pro' },
        context,
      },
      {
        type: 'page',
        anonymousId: p.anonymousId,
        name: 'Pricing',
        properties: { url: 'https://shop.example.com/pricing', path: '/pricing' },
        context,
      },
      {
        type: 'track',
        userId: p.userId,
        event: 'Order Completed',
        properties: {
          order_id: `o-${randomUUID()}`,
          total: 42.5,
          currency: 'USD',
          products: [{ product_id: 'sku-1', price: 42.5, quantity: 1 }],
        },
        context,
      },
    ];
    const response = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
      body: JSON.stringify({ batch }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ accepted: 3, rejected: 0 });
  };

  /** A call the collector refuses (no event name), carrying the person's email: a dead letter. */
  const sendRejected = async (p: Person) => {
    const response = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
      body: JSON.stringify({
        batch: [{ type: 'track', userId: p.userId, properties: { contact: p.email } }],
      }),
    });
    // Nothing accepted: a 400 naming the problem; the call is kept as a dead letter all the same.
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain('"rejected":1');
  };

  /** Every dead letter as text: its row, and its raw input decoded as the sender wrote it. */
  const deadLetterText = async () => {
    const { rows } = await sql.query<{ row: string }>(
      `SELECT d::text || convert_from(d.raw_payload, 'UTF8') AS row FROM ingest.dead_letters d`,
    );
    return rows.map((r) => r.row).join('\n');
  };

  /** The customer id once the profile shows every event (3) under one customer. */
  const customerIdOf = (p: Person) =>
    eventually(async () => {
      const response = await admin(`/v1/profiles/lookup?email=${encodeURIComponent(p.email)}`);
      if (response.status !== 200) return undefined;
      const profile = (await response.json()) as { customerId: string; totalEvents: number };
      return profile.totalEvents >= 3 ? profile.customerId : undefined;
    }, 60_000);

  /** Every row of the event store and the key table, as text. */
  const storedText = async () => {
    const { rows } = await sql.query<{ row: string }>(
      `SELECT e::text AS row FROM event_store.events e
       UNION ALL SELECT s::text FROM event_store.streams s
       UNION ALL SELECT k::text FROM privacy.subject_keys k`,
    );
    return rows.map((r) => r.row).join('\n');
  };

  /** Every row of every table in the read-model schemas, as text, by table. */
  const readModelText = async () => {
    const tables = await sql.query<{ name: string }>(
      `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name
         FROM information_schema.tables
        WHERE table_schema IN ('read_models', 'models', 'identity', 'projections', 'privacy',
                               'read_models_next', 'read_models_previous')
          AND table_type = 'BASE TABLE'`,
    );
    expect(tables.rows.length).toBeGreaterThan(20);
    const text: Record<string, string> = {};
    for (const { name } of tables.rows) {
      const { rows } = await sql.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`);
      text[name] = rows.map((r) => r.row).join('\n');
    }
    return text;
  };
  const tablesMentioning = (text: Record<string, string>, secrets: readonly string[]) =>
    Object.entries(text)
      .filter(([, rows]) => secrets.some((secret) => rows.includes(secret)))
      .map(([table]) => table);

  const republish = async (name: string): Promise<Message[]> => {
    const topic = `${prefix}.${name}`;
    await kafkaAdmin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const started = await admin('/v1/admin/republish', {
      method: 'POST',
      body: JSON.stringify({ name, topic }),
    });
    expect(started.status).toBeLessThan(300);
    const job = await eventually(async () => {
      const view = (
        (await (await admin(`/v1/admin/republish/${name}`)).json()) as {
          job: { status: string; eventsPublished: number; errorCode: string | null };
        }
      ).job;
      return view.status === 'running' ? undefined : view;
    }, 60_000);
    expect(job).toMatchObject({ status: 'completed', errorCode: null });
    const end = (await kafkaAdmin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    expect(end).toBe(job.eventsPublished);
    const consumer = kafka.consumer({ groupId: `${prefix}-${name}-${randomUUID()}` });
    const messages: Message[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          const value = message.value ?? Buffer.alloc(0);
          const envelope = decodeEnvelopeOrThrow(value);
          const decoded = decodeEventDataOrThrow(envelope.data) as { data?: unknown };
          messages.push({
            key: message.key?.toString('utf8') ?? '',
            eventId: envelope.eventId,
            // Every byte of the record, as text: headers, key and the Avro value.
            bytes: [
              message.key?.toString('latin1') ?? '',
              value.toString('latin1'),
              ...Object.values(message.headers ?? {}).map((h) => String(h)),
            ].join('\n'),
            data: JSON.parse(
              JSON.stringify(decoded, (_name, v: unknown) =>
                typeof v === 'bigint' ? v.toString() : v,
              ),
            ) as Record<string, unknown>,
          });
          return Promise.resolve();
        },
      });
      await eventually(() => Promise.resolve(messages.length >= end ? true : undefined), 60_000);
    } finally {
      await consumer.disconnect();
    }
    return messages;
  };

  /** The data key of a subject as the key table holds it now (null once destroyed). */
  const keyOf = async (subject: string): Promise<Buffer | null> => {
    const { rows } = await sql.query<{ wrapped_key: string | null }>(
      'SELECT wrapped_key FROM privacy.subject_keys WHERE subject = $1',
      [subject],
    );
    return unwrapSubjectKey(rows[0]?.wrapped_key ?? null, subject, masterKeyOf(dataDir));
  };

  /**
   * Every sealed value in a decoded message (also inside JSON-typed fields, where it is quoted),
   * opened with the key: what a downstream consumer holding the key would read.
   */
  const openAll = (message: Message, key: Buffer | null): unknown[] => {
    const sealed = JSON.stringify(message.data).match(/tl:enc:v1:[A-Za-z0-9_-]+/g) ?? [];
    expect(sealed.length).toBeGreaterThan(0);
    return sealed.map((value) => (key === null ? null : openSealed(value, key, message.eventId)));
  };

  beforeAll(async () => {
    database = await postgresTarget().create();
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-erasure-'));
    const brokers = kafkaBrokers();
    kafka = new Kafka({ clientId: prefix, brokers, logLevel: logLevel.NOTHING });
    kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    server = await startServer({
      DATABASE_URL: database.url,
      KAFKA_BROKERS: brokers.join(','),
      TOUCHLINE_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: '2',
      TOUCHLINE_DATA_DIR: dataDir,
    });
    const credentials = JSON.parse(
      await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
    ) as { writeKey: string; apiKey: string };
    writeKey = credentials.writeKey;
    apiKey = credentials.apiKey;
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    await send(ada);
    await send(grace);
    await sendRejected(ada);
    await sendRejected(grace);
    customerIds.ada = await customerIdOf(ada);
    customerIds.grace = await customerIdOf(grace);
  });

  afterAll(async () => {
    await sql?.end();
    await server?.stop();
    await kafkaAdmin?.disconnect();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('stores and republishes no personal data in the clear, even before an erasure', async () => {
    const stored = await storedText();
    for (const secret of [...secretsOf(ada), ...secretsOf(grace)]) {
      expect(stored).not.toContain(secret);
    }
    // Through the server's keys the same events open, as the projections saw them.
    const opened = JSON.stringify(await openedEvents(sql, masterKeyOf(dataDir)));
    for (const secret of [ada.email, ada.phone, ada.name, ada.userId, grace.email]) {
      expect(opened).toContain(secret);
    }
  });

  it('refuses to start a process with another master key than the database was started with', async () => {
    const other = randomBytes(32).toString('base64');
    const start = startServer({
      DATABASE_URL: database.url,
      TOUCHLINE_ROLES: 'query',
      KAFKA_BROKERS: kafkaBrokers().join(','),
      TOUCHLINE_TOPIC_PREFIX: prefix,
      TOUCHLINE_DATA_DIR: dataDir,
      TOUCHLINE_MASTER_KEY: other,
    });
    await expect(start).rejects.toThrow(/not the master key this database was first started with/);
    await expect(start).rejects.not.toThrow(other);
  });

  it('erases a customer: keys, read models, Kafka, and a replay from zero show nothing of them', async () => {
    const graceBefore = await (await admin(`/v1/profiles/${customerIds.grace}`)).json();
    // A republish before the erasure: sealed on the topic, and openable while the key exists.
    const before = await republish('before');
    const adaEventIds = new Set(
      (await openedEvents(sql, masterKeyOf(dataDir)))
        .filter((e) => [`user:${ada.userId}`, `anon:${ada.anonymousId}`].includes(e.stream_id))
        .map((e) => e.event_id),
    );
    const adaBefore = before.filter((m) => adaEventIds.has(m.eventId));
    expect(adaBefore.length).toBe(3);
    for (const message of before) {
      for (const secret of [...secretsOf(ada), ...secretsOf(grace)]) {
        expect(message.bytes).not.toContain(secret);
      }
    }
    // Both rejected calls are stored as dead letters, raw, with the email in the clear.
    await eventually(async () => {
      const text = await deadLetterText();
      return text.includes(ada.email) && text.includes(grace.email) ? true : undefined;
    }, 60_000);

    const keyBefore = await keyOf(adaBefore[0]!.key);
    expect(keyBefore).not.toBeNull();
    expect(JSON.stringify(openAll(adaBefore[0]!, keyBefore))).toContain(ada.userId);

    // A blue/green rebuild keeps the replaced rows for rollback (read_models_previous): a copy
    // that holds Ada too, and must go with her.
    for (const name of ['customer_profiles', 'customer_activity']) {
      const rebuild = await admin(`/v1/admin/projections/${name}/rebuild`, {
        method: 'POST',
        body: JSON.stringify({ strategy: 'blue-green' }),
      });
      expect(rebuild.status).toBeLessThan(300);
      await eventually(async () => {
        const current = (await (await admin(`/v1/admin/projections/${name}`)).json()) as {
          rebuild: { status: string } | null;
        };
        return current.rebuild?.status === 'completed' ? true : undefined;
      }, 120_000);
    }
    const kept = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM read_models_previous.customer_identifiers
        WHERE customer_id = $1`,
      [customerIds.ada],
    );
    expect(kept.rows[0]?.n).toBeGreaterThan(0);

    // The erasure.
    const erased = await admin(`/v1/admin/customers/${customerIds.ada}/erasure`, {
      method: 'POST',
    });
    expect(erased.status).toBe(200);
    const outcome = (await erased.json()) as Record<string, unknown>;
    expect(outcome).toMatchObject({ customerId: customerIds.ada, status: 'erased' });
    expect(outcome['keysDestroyed']).toBeGreaterThanOrEqual(2);
    expect(outcome['readModelRows']).toBeGreaterThan(0);
    expect(outcome['deadLetters']).toBe(1);
    expect(JSON.stringify(outcome)).not.toContain(ada.email);

    // (a) The event store and the key table: nothing of Ada, in the clear or openable.
    const stored = await storedText();
    for (const secret of secretsOf(ada)) expect(stored).not.toContain(secret);
    const afterErasure = JSON.stringify(await openedEvents(sql, masterKeyOf(dataDir)));
    for (const secret of secretsOf(ada)) expect(afterErasure).not.toContain(secret);
    expect(afterErasure).toContain(grace.email);
    const record = await sql.query<{ event_type: string; data: Record<string, unknown> }>(
      `SELECT event_type, data FROM event_store.events WHERE stream_id = $1`,
      [`erasure:${customerIds.ada}`],
    );
    expect(record.rows).toEqual([
      {
        event_type: 'CustomerErased',
        data: expect.objectContaining({ customerId: customerIds.ada }) as unknown,
      },
    ]);

    // (b) Kafka: the topic written before can no longer be opened; a republish after holds
    // nothing in the clear and nothing openable of Ada; Grace's still opens.
    for (const message of adaBefore) {
      expect(await keyOf(message.key)).toBeNull();
      expect(openAll(message, await keyOf(message.key)).every((v) => v === null)).toBe(true);
    }
    const after = await republish('after');
    // The erasure record is the platform's own: it is not republished.
    expect(after).toHaveLength(before.length);
    for (const message of after) {
      for (const secret of [...secretsOf(ada), ...secretsOf(grace)]) {
        expect(message.bytes).not.toContain(secret);
      }
      const key = await keyOf(message.key);
      const opened = JSON.stringify(openAll(message, key));
      for (const secret of secretsOf(ada)) expect(opened).not.toContain(secret);
    }
    const graceMessages = after.filter((m) => !adaEventIds.has(m.eventId));
    // One at a time: `sql` is one connection, which runs one query at a time.
    const graceOpenedMessages: unknown[] = [];
    for (const m of graceMessages) graceOpenedMessages.push(openAll(m, await keyOf(m.key)));
    const graceOpened = JSON.stringify(graceOpenedMessages);
    expect(graceOpened).toContain(grace.userId);

    // Dead letters: Ada's is gone (not even as text anywhere in the table); Grace's stays.
    const deadLetters = await deadLetterText();
    for (const secret of secretsOf(ada)) expect(deadLetters).not.toContain(secret);
    expect(deadLetters).toContain(grace.email);
    const erasureRow = await sql.query<{ dead_letters: number }>(
      'SELECT dead_letters FROM privacy.erasures WHERE customer_id = $1',
      [customerIds.ada],
    );
    expect(erasureRow.rows).toEqual([{ dead_letters: 1 }]);

    // (c) Every read model: no row names Ada; Grace's profile is what it was.
    expect(tablesMentioning(await readModelText(), secretsOf(ada))).toEqual([]);
    expect(
      tablesMentioning(await readModelText(), [customerIds.ada]).filter(
        (table) => table !== 'privacy.erasures',
      ),
    ).toEqual([]);
    expect((await admin(`/v1/profiles/${customerIds.ada}`)).status).toBe(404);
    expect((await admin(`/v1/profiles/lookup?email=${encodeURIComponent(ada.email)}`)).status).toBe(
      404,
    );
    expect(await (await admin(`/v1/profiles/${customerIds.grace}`)).json()).toEqual(graceBefore);

    // A replay from zero of every projection, through the operations API: it works, and still
    // shows nothing of Ada; Grace comes back the same.
    const projections = (
      (await (await admin('/v1/admin/projections')).json()) as { items: { name: string }[] }
    ).items.map((p) => p.name);
    expect(projections).toEqual(expect.arrayContaining(['customer_profiles', 'customer_activity']));
    for (const name of projections) {
      const rebuild = await admin(`/v1/admin/projections/${name}/rebuild`, {
        method: 'POST',
        body: '{}',
      });
      expect(rebuild.status).toBeLessThan(300);
      const view = await eventually(async () => {
        const current = (await (await admin(`/v1/admin/projections/${name}`)).json()) as {
          rebuild: { status: string } | null;
          lagEvents: number;
        };
        return current.rebuild?.status !== 'running' && current.lagEvents === 0
          ? current
          : undefined;
      }, 120_000);
      expect(view.rebuild?.status).toBe('completed');
    }
    expect(tablesMentioning(await readModelText(), secretsOf(ada))).toEqual([]);
    expect(await (await admin(`/v1/profiles/${customerIds.grace}`)).json()).toEqual(graceBefore);
    // Ada's events still count, anonymously: under pseudonyms, with no identifier.
    const anonymous = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM read_models.customer_activity WHERE customer_key LIKE 'p:%'`,
    );
    expect(anonymous.rows[0]?.n).toBeGreaterThan(0);
  });

  it('answers a second erasure with "already erased" (the CLI too), an unknown customer with 404, and audits each', async () => {
    const again = await admin(`/v1/admin/customers/${customerIds.ada}/erasure`, {
      method: 'POST',
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      customerId: customerIds.ada,
      status: 'already-erased',
      message: expect.stringContaining('already erased') as unknown,
    });
    // By one of its identifiers, through the CLI: the same customer, still a no-op.
    const { stdout } = await cli('erase', `email:${ada.email}`);
    expect(stdout).toContain(customerIds.ada);
    expect(stdout).toContain('already erased');

    const unknown = await admin(`/v1/admin/customers/${randomUUID()}/erasure`, {
      method: 'POST',
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      error: { code: 'NOT_FOUND', message: expect.stringContaining('No customer') as unknown },
    });
    // Over the router's parameter limit (414) or the id limit (400): refused before any lookup.
    const tooLong = await admin(`/v1/admin/customers/${'x'.repeat(521)}/erasure`, {
      method: 'POST',
    });
    expect([400, 414]).toContain(tooLong.status);

    const audit = (
      (await (await admin('/v1/admin/audit?limit=50')).json()) as {
        items: { action: string; target: string | null; outcome: string }[];
      }
    ).items.filter((item) => item.action === 'customer.erasure');
    expect(audit.map((item) => item.outcome).sort()).toEqual([
      'done',
      'no-op',
      'no-op',
      'not-found',
    ]);
    expect(JSON.stringify(audit)).not.toContain(ada.email);

    // Grace is still there and can be erased on her own.
    expect((await admin(`/v1/profiles/${customerIds.grace}`)).status).toBe(200);
    // Nothing personal reached the log either.
    const log = server.output.join('\n');
    for (const secret of [...secretsOf(ada), ...secretsOf(grace)]) {
      expect(log).not.toContain(secret);
    }
  });
});
