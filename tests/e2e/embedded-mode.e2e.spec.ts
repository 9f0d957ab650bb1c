import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { basicAuth, eventually, type ServerProcess, startServer } from './support/server-process';

/**
 * The default of `npm start`: one process, PGlite under a data directory, in-process transport.
 * Events posted over HTTP are read back through the query API, and survive a restart.
 */
describe('embedded mode, end to end', () => {
  let dataDir: string;
  let server: ServerProcess;
  let writeKey: string;
  let apiKey: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-embedded-'));
    server = await startServer({ TOUCHLINE_DATA_DIR: dataDir });
    const credentialsFile = path.join(dataDir, 'credentials.json');
    const credentials = JSON.parse(await readFile(credentialsFile, 'utf8')) as {
      writeKey: string;
      apiKey: string;
    };
    writeKey = credentials.writeKey;
    apiKey = credentials.apiKey;
    // Only the owner may read the keys.
    expect((await stat(credentialsFile)).mode & 0o077).toBe(0);
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Everything personal or secret this suite sent: none of it may appear in the logs. */
  const sensitive = new Set<string>();
  const remember = (body: unknown): void => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    // Ids short enough to occur by chance (e.g. 'x') would make the scan meaningless.
    for (const match of text.matchAll(/"(?:userId|anonymousId)":"([^"]{8,})"/g))
      if (match[1]) sensitive.add(match[1]);
  };
  const post = (route: string, body: unknown, key = writeKey) => {
    remember(body);
    return postRaw(route, body, key);
  };
  const postRaw = (route: string, body: unknown, key = writeKey) =>
    fetch(`${server.url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(key) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  const getCustomer = (id: string, key = apiKey) =>
    fetch(`${server.url}/v1/customers/${encodeURIComponent(id)}`, {
      headers: { authorization: `Bearer ${key}` },
    });

  it('stores a tracked event and shows it in the customer activity summary', async () => {
    const userId = `user-${randomUUID()}`;
    const response = await post('/v1/track', {
      userId,
      event: 'Signed Up',
      properties: { plan: 'pro' },
      timestamp: '2026-11-01T10:00:00.000Z',
      sentAt: '2026-11-01T10:00:00.000Z',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ success: true, accepted: 1, rejected: 0 });

    const summary = await eventually(async () => {
      const res = await getCustomer(userId);
      return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
    });
    expect(summary).toMatchObject({
      customerKey: `user:${userId}`,
      totalEvents: 1,
      eventsByChannel: { web: 1, email: 0, phone: 0, other: 0 },
      lastContact: { channel: 'web', type: 'WebEventTracked', name: 'Signed Up' },
    });
  });

  it('answers a batch per message: the good ones are stored, the bad one is named', async () => {
    const anonymousId = `anon-${randomUUID()}`;
    const response = await post('/v1/batch', {
      batch: [
        { type: 'track', anonymousId, event: 'Video Played', messageId: `m-${randomUUID()}` },
        { type: 'track', anonymousId, properties: { no: 'event name' } },
        { type: 'track', anonymousId, event: 'Article Read' },
      ],
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      accepted: number;
      rejected: number;
      results: Array<Record<string, unknown>>;
    };
    expect(body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(body.results[1]).toMatchObject({
      index: 1,
      status: 'rejected',
      errors: [{ field: 'event', rule: 'required' }],
    });
    const summary = await eventually(async () => {
      const res = await getCustomer(anonymousId);
      const json = res.status === 200 ? ((await res.json()) as { totalEvents: number }) : undefined;
      return json?.totalEvents === 2 ? json : undefined;
    });
    expect(summary).toMatchObject({ customerKey: `anon:${anonymousId}`, totalEvents: 2 });
  });

  it('stores a repeated messageId once', async () => {
    const userId = `user-${randomUUID()}`;
    const message = { userId, event: 'Trial Started', messageId: `m-${randomUUID()}` };
    for (let i = 0; i < 3; i += 1) expect((await post('/v1/track', message)).status).toBe(200);
    await post('/v1/track', { userId, event: 'Marker' });
    const summary = await eventually(async () => {
      const res = await getCustomer(userId);
      const json =
        res.status === 200
          ? ((await res.json()) as { totalEvents: number; lastContact: { name: string } })
          : undefined;
      return json?.totalEvents === 2 ? json : undefined;
    });
    expect(summary.totalEvents).toBe(2);
  });

  it("turns Segment's ecommerce track calls into typed order events, naming a bad field", async () => {
    const userId = `buyer-${randomUUID()}`;
    const order = (price: unknown) => ({
      userId,
      event: 'Order Completed',
      messageId: `order-${String(price)}-${userId}`,
      properties: {
        order_id: `o-${randomUUID()}`,
        total: 31.5,
        currency: 'eur',
        products: [{ product_id: 'p-1', price, quantity: 2 }],
      },
    });
    const refused = await post('/v1/track', order(-5));
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as {
      error: { details: { results: Array<{ errors: Array<{ field: string; rule: string }> }> } };
    };
    expect(body.error.details.results[0]?.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'properties.products[0].price', rule: 'non-negative' }),
      ]),
    );
    expect((await post('/v1/track', order(15.75))).status).toBe(200);
    const summary = await eventually(async () => {
      const res = await getCustomer(userId);
      return res.status === 200
        ? ((await res.json()) as { lastContact: { type: string } })
        : undefined;
    });
    expect(summary.lastContact.type).toBe('OrderCompleted');
  });

  it('refuses malformed JSON with a JSON error and keeps the raw body as a dead letter', async () => {
    const garbage = `{"userId": "broken-${randomUUID()}", "event": `;
    const response = await post('/v1/track', garbage);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });
    const databaseUrl = server.logs.find((l) => l.msg === 'embedded database started')?.[
      'embeddedDatabaseUrl'
    ];
    expect(typeof databaseUrl).toBe('string');
    const client = new Client({ connectionString: databaseUrl as string });
    await client.connect();
    try {
      const stored = await eventually(async () => {
        const result = await client.query<{ reason_code: string; raw: string }>(
          "SELECT reason_code, convert_from(raw_payload, 'UTF8') AS raw FROM ingest.dead_letters WHERE convert_from(raw_payload, 'UTF8') = $1",
          [garbage],
        );
        return result.rows[0];
      });
      expect(stored.reason_code).toBe('INVALID_JSON');
    } finally {
      await client.end();
    }
  });

  it('refuses unknown keys with 401, a key of the wrong role with 403, and an unknown customer with 404', async () => {
    expect((await post('/v1/track', { userId: 'x', event: 'y' }, 'tlw_not-a-key')).status).toBe(
      401,
    );
    const noKey = await fetch(`${server.url}/v1/customers/someone`);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    // A write key is a key, but not one that may read.
    const wrongRole = await getCustomer('someone', writeKey);
    expect(wrongRole.status).toBe(403);
    expect(await wrongRole.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    const missing = await getCustomer(`nobody-${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('serves its OpenAPI document and health endpoints without a key', async () => {
    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, { get?: { parameters?: { name: string; in: string }[] } }>;
    };
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/track', '/v1/batch', '/v1/customers/{id}']),
    );
    // The profile search's filters are parameters a client generator sees, not prose.
    const searchParameters = (document.paths['/v1/profiles']?.get?.parameters ?? [])
      .filter((parameter) => parameter.in === 'query')
      .map((parameter) => parameter.name);
    expect(searchParameters.sort()).toEqual(
      [
        'trait',
        'lastSeenFrom',
        'lastSeenTo',
        'channel',
        'minEvents',
        'sort',
        'order',
        'limit',
        'cursor',
      ].sort(),
    );
    expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
    expect(await (await fetch(`${server.url}/health/ready`)).json()).toMatchObject({
      status: 'ok',
      database: true,
      transport: true,
    });
  });

  it('groups web events into sessions by 30 minutes of inactivity, whatever the arrival order', async () => {
    const anonymousId = `sessions-${randomUUID()}`;
    const at = (minutes: number) =>
      new Date(Date.UTC(2026, 10, 1, 9, 0) + minutes * 60_000).toISOString();
    const page = (minutes: number, path: string, campaign?: Record<string, string>) => ({
      type: 'page',
      anonymousId,
      name: path,
      timestamp: at(minutes),
      context: {
        page: {
          url: `https://shop.example${path}`,
          path,
          referrer: minutes === 0 ? 'https://search.example' : null,
        },
        ...(campaign ? { campaign } : {}),
      },
    });
    // Arrives out of order: the second session's events first.
    const response = await post('/v1/batch', {
      batch: [
        page(90, '/pricing', { source: 'newsletter', medium: 'email', name: 'autumn' }),
        page(100, '/signup'),
        page(0, '/', { source: 'google', medium: 'cpc', name: 'brand' }),
        page(20, '/features'),
        page(45, '/docs'),
      ],
    });
    expect(response.status).toBe(200);
    const sessions = await eventually(async () => {
      const res = await fetch(`${server.url}/v1/customers/${anonymousId}/sessions`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      const body =
        res.status === 200
          ? ((await res.json()) as { sessions: Array<Record<string, unknown>> })
          : undefined;
      return body && body.sessions.reduce((n, s) => n + Number(s['events']), 0) === 5
        ? body.sessions
        : undefined;
    });
    expect(sessions).toMatchObject([
      {
        sessionNumber: 2,
        events: 2,
        landingPath: '/pricing',
        campaign: { source: 'newsletter', medium: 'email', name: 'autumn' },
      },
      {
        sessionNumber: 1,
        events: 3,
        landingPath: '/',
        referrer: 'https://search.example',
        campaign: { source: 'google', name: 'brand' },
      },
    ]);
    const shorter = (await (
      await fetch(`${server.url}/v1/customers/${anonymousId}/sessions?timeoutMinutes=15`, {
        headers: { authorization: `Bearer ${apiKey}` },
      })
    ).json()) as { sessions: unknown[] };
    expect(shorter.sessions).toHaveLength(4);
    const bad = await fetch(
      `${server.url}/v1/customers/${anonymousId}/sessions?timeoutMinutes=-1`,
      { headers: { authorization: `Bearer ${apiKey}` } },
    );
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: {
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('timeoutMinutes') as string,
      },
    });
  });

  it('writes no personal data and no key to its logs', () => {
    sensitive.add(writeKey);
    sensitive.add(apiKey);
    expect(sensitive.size).toBeGreaterThan(5);
    const logs = server.output.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const value of sensitive) expect(logs).not.toContain(value);
  });

  it('keeps its data across a restart', async () => {
    const userId = `user-${randomUUID()}`;
    expect((await post('/v1/track', { userId, event: 'Before Restart' })).status).toBe(200);
    await eventually(async () => ((await getCustomer(userId)).status === 200 ? true : undefined));
    expect(await server.stop()).toBe(0);
    server = await startServer({ TOUCHLINE_DATA_DIR: dataDir });
    const summary = (await (await getCustomer(userId)).json()) as { lastContact: { name: string } };
    expect(summary.lastContact.name).toBe('Before Restart');
  });
});
