import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { TestDatabase } from '@touchline/platform/testing';
import { basicAuth, eventually, type ServerProcess, startServer } from './support/server-process';
import { describeFullMode, kafkaBrokers, postgresTarget } from './support/services';

/**
 * Suppression over a real Kafka and PostgreSQL: once an email is suppressed, events carrying it
 * pass the collector and Kafka but the recorder does not store them (and counts them); other
 * events are stored; lifting the suppression resumes storage. Nothing of the address reaches the
 * suppression table, the API's answers about it, or the log.
 */
describeFullMode('suppression of an identifier (Kafka + PostgreSQL)', () => {
  let database: TestDatabase;
  let dataDir: string;
  let server: ServerProcess;
  let writeKey: string;
  let apiKey: string;
  let sql: Client;
  const run = randomUUID().slice(0, 8);
  const suppressedEmail = `suppressed.${run}@example.com`;
  const keptUser = `kept-${run}`;

  beforeAll(async () => {
    database = await postgresTarget().create();
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-suppression-'));
    server = await startServer({
      DATABASE_URL: database.url,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      TOUCHLINE_TOPIC_PREFIX: `tl-e2e-${run}`,
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
  });

  afterAll(async () => {
    await sql?.end();
    await server?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const admin = (method: string, route: string, body?: unknown): Promise<Response> =>
    fetch(`${server.url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  const send = async (messages: readonly Record<string, unknown>[]): Promise<void> => {
    const response = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
      body: JSON.stringify({
        batch: messages.map((m) => ({ messageId: randomUUID(), ...m })),
      }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { accepted: number }).accepted).toBe(messages.length);
  };

  const suppressedTotal = async (): Promise<number> => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('touchline_events_suppressed_total '));
    return Number(line?.split(' ')[1] ?? Number.NaN);
  };

  const storedEvents = async (): Promise<number> =>
    Number(
      (await sql.query<{ n: string }>('SELECT count(*) AS n FROM event_store.events')).rows[0]?.n,
    );

  /** Events held under a customer key, read through the export (which reads the store). */
  const exported = async (key: string): Promise<number> => {
    const response = await admin('GET', `/v1/admin/customers/${encodeURIComponent(key)}/export`);
    if (response.status === 404) return 0;
    expect(response.status).toBe(200);
    return ((await response.json()) as { events: unknown[] }).events.length;
  };

  it('drops the events of a suppressed email, stores the others, and resumes once lifted', async () => {
    // Bad input names the field and never echoes the value.
    const badType = await admin('POST', '/v1/admin/suppressions', {
      type: 'fax',
      value: suppressedEmail,
      reason: 'test',
    });
    expect(badType.status).toBe(400);
    expect(JSON.stringify(await badType.json())).toMatch(/type must be one of/);
    const badValue = await admin('POST', '/v1/admin/suppressions', {
      type: 'email',
      value: 'not an address',
      reason: 'test',
    });
    expect(badValue.status).toBe(400);
    expect(((await badValue.json()) as { error: { message: string } }).error.message).toBe(
      'value is not an email address',
    );
    const noReason = await admin('POST', '/v1/admin/suppressions', {
      type: 'email',
      value: suppressedEmail,
    });
    expect(noReason.status).toBe(400);

    // Suppress, typed differently from how the events will carry it.
    const created = await admin('POST', '/v1/admin/suppressions', {
      type: 'email',
      value: `  ${suppressedEmail.toUpperCase()}`,
      reason: 'customer asked by phone',
    });
    expect(created.status).toBe(200);
    const { created: isNew, suppression } = (await created.json()) as {
      created: boolean;
      suppression: { id: string; identifierType: string; active: boolean };
    };
    expect(isNew).toBe(true);
    expect(suppression).toMatchObject({ identifierType: 'email', active: true });
    const again = await admin('POST', '/v1/admin/suppressions', {
      type: 'email',
      value: suppressedEmail,
      reason: 'twice',
    });
    expect(await again.json()).toMatchObject({
      created: false,
      suppression: { id: suppression.id },
    });

    const storedBefore = await storedEvents();
    await send([
      // Carries the address in identify traits and in the context: both are dropped.
      { type: 'identify', userId: `gone-${run}`, traits: { email: suppressedEmail, plan: 'pro' } },
      {
        type: 'track',
        anonymousId: `anon-${run}`,
        event: 'Viewed Pricing',
        context: { traits: { email: suppressedEmail } },
      },
      {
        type: 'track',
        userId: `gone-${run}`,
        event: 'ConsentChanged',
        properties: {
          purpose: 'email_marketing',
          granted: true,
          source: 'web-banner',
          email: suppressedEmail,
        },
      },
      // Another customer: stored.
      { type: 'identify', userId: keptUser, traits: { email: `kept.${run}@example.com` } },
      { type: 'track', userId: keptUser, event: 'Signed Up' },
    ]);
    await eventually(async () => ((await suppressedTotal()) >= 3 ? true : undefined));
    await eventually(async () => ((await exported(`user:${keptUser}`)) === 2 ? true : undefined));
    expect(await suppressedTotal()).toBe(3);
    expect(await storedEvents()).toBe(storedBefore + 2);
    expect(await exported(`user:gone-${run}`)).toBe(0);
    expect(await exported(`anon:anon-${run}`)).toBe(0);

    // The list and the table hold no trace of the address, only its keyed hash.
    const list = await admin('GET', '/v1/admin/suppressions');
    expect(list.status).toBe(200);
    const listed = (await list.json()) as { items: { id: string }[] };
    expect(listed.items.map((i) => i.id)).toEqual([suppression.id]);
    const table = await sql.query('SELECT * FROM privacy.suppressions');
    expect(JSON.stringify(table.rows).toLowerCase()).not.toContain(suppressedEmail);
    expect(JSON.stringify(listed).toLowerCase()).not.toContain(suppressedEmail);
    expect((await admin('GET', '/v1/admin/suppressions?limit=0')).status).toBe(400);

    // Lifted: the next event with the address is stored again.
    const lifted = await admin('DELETE', `/v1/admin/suppressions/${suppression.id}`);
    expect(lifted.status).toBe(200);
    expect((await admin('DELETE', `/v1/admin/suppressions/${suppression.id}`)).status).toBe(404);
    expect((await admin('DELETE', '/v1/admin/suppressions/not-a-uuid')).status).toBe(400);
    await send([
      { type: 'identify', userId: `gone-${run}`, traits: { email: suppressedEmail, plan: 'pro' } },
    ]);
    await eventually(async () => ((await exported(`user:gone-${run}`)) === 1 ? true : undefined));
    expect(await suppressedTotal()).toBe(3);

    // Audited by id, and nothing of the address in the log.
    const audit = (await (await admin('GET', '/v1/admin/audit')).json()) as {
      items: { action: string; target: string | null; outcome: string }[];
    };
    const actions = audit.items
      .filter((i) => i.action.startsWith('suppression.'))
      .map((i) => [i.action, i.target, i.outcome]);
    expect(actions).toEqual(
      expect.arrayContaining([
        ['suppression.create', suppression.id, 'done'],
        ['suppression.create', suppression.id, 'no-op'],
        ['suppression.lift', suppression.id, 'done'],
        ['suppression.lift', suppression.id, 'not-found'],
      ]),
    );
    expect(server.output.join('\n').toLowerCase()).not.toContain(suppressedEmail);
    expect(server.output.join('\n')).not.toContain(`gone-${run}`);
  }, 120_000);
});
