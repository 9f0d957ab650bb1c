import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { type EmbeddedTouchline, startEmbeddedTouchline } from './support/embedded-touchline';
import { basicAuth } from './support/server-process';

/**
 * Random and mutated payloads on every public endpoint: the service never crashes, never answers
 * 5xx for a client's mistake, and every event it accepts can be read back from the store.
 */
describe('fuzzing the public endpoints', () => {
  let touchline: EmbeddedTouchline;
  const serverUrl = (): string => touchline.server.url;

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('fuzz', { TOUCHLINE_LINK_SECRETS: 'fuzz-secret' });
  });

  afterAll(async () => {
    await touchline?.stop();
  });

  const valid = () => ({
    type: 'track',
    userId: `fuzz-${randomUUID()}`,
    messageId: randomUUID(),
    event: 'Fuzzed',
    properties: { a: 1 },
    timestamp: '2026-11-01T00:00:00Z',
  });

  /** Mutations of a valid message: wrong types, missing fields, odd values, deep nesting. */
  const mutated = fc
    .record({
      field: fc.constantFrom(
        'type',
        'userId',
        'anonymousId',
        'messageId',
        'event',
        'properties',
        'context',
        'timestamp',
        'sentAt',
        'traits',
        'integrations',
      ),
      value: fc.oneof(
        fc.constant(null),
        fc.constant(undefined),
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.string({ maxLength: 50 }),
        fc.string({ unit: 'binary', maxLength: 50 }),
        fc.array(fc.anything(), { maxLength: 5 }),
        fc.dictionary(fc.string({ maxLength: 10 }), fc.anything(), { maxKeys: 5 }),
        fc.constant('9'.repeat(400)),
        fc.constant('x'.repeat(40_000)),
        fc.constant(deepObject(200)),
      ),
    })
    .map(({ field, value }) => ({ ...valid(), [field]: value }));

  const rawBodies = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.json({ maxDepth: 4 }),
    fc.constant('{"batch": ' + '['.repeat(5_000) + ']'.repeat(5_000) + '}'),
    fc.constant('{'.repeat(10_000)),
  );

  const send = (route: string, body: string | Buffer, contentType = 'application/json') =>
    fetch(`${serverUrl()}${route}`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: basicAuth(touchline.writeKey) },
      body,
    });

  it('answers every mutated message with 200 or a 4xx naming the problem, never a 5xx', async () => {
    const accepted: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.array(mutated, { minLength: 1, maxLength: 5 }),
        fc.constantFrom('/v1/batch', '/v1/track', '/v1/page', '/v1/identify'),
        async (messages, route) => {
          const body = route === '/v1/batch' ? { batch: messages } : messages[0];
          const response = await send(route, JSON.stringify(body) ?? 'null');
          expect(response.status).toBeLessThan(500);
          const answer = (await response.json()) as {
            results?: Array<{ status: string; messageId: string | null }>;
            error?: { code: string; message: string };
          };
          if (response.status >= 400) {
            expect(answer.error?.code).toEqual(expect.any(String));
            expect(answer.error?.message.length).toBeGreaterThan(0);
          }
          for (const result of answer.results ?? []) {
            if (result.status === 'accepted' && result.messageId) accepted.push(result.messageId);
          }
        },
      ),
      { numRuns: 60 },
    );
    // Everything accepted can be read back: stored, with the messageId it was accepted under.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stored = await touchline.sql.query<{ id: string }>(
      "SELECT data->>'messageId' AS id FROM event_store.events WHERE data->>'messageId' = ANY($1)",
      [accepted],
    );
    expect(new Set(stored.rows.map((r) => r.id))).toEqual(new Set(accepted));
  });

  it('refuses garbage bodies with a 4xx and stays up', async () => {
    await fc.assert(
      fc.asyncProperty(
        rawBodies,
        fc.constantFrom(
          '/v1/batch',
          '/v1/track',
          '/v1/contacts',
          '/v1/calls',
          '/v1/webhooks/sendgrid/default-web',
        ),
        fc.constantFrom(
          'application/json',
          'text/plain',
          'application/octet-stream',
          'application/x-www-form-urlencoded',
        ),
        async (body, route, contentType) => {
          const response = await send(
            route,
            typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
            contentType,
          );
          expect(response.status).toBeGreaterThanOrEqual(200);
          expect(response.status).toBeLessThan(500);
        },
      ),
      { numRuns: 80 },
    );
    const tampered = await fetch(
      `${serverUrl()}/v1/t/click?u=${encodeURIComponent('https://evil.example')}&r=a%40b.c&m=1&s=forged`,
      { redirect: 'manual' },
    );
    expect(tampered.status).toBeGreaterThanOrEqual(400);
    expect(tampered.status).toBeLessThan(500);
    expect(tampered.headers.get('location')).toBeNull();
    expect((await fetch(`${serverUrl()}/health/live`)).status).toBe(200);
  });

  it('refuses NUL and lone surrogates, which PostgreSQL cannot store, and keeps accepting after them', async () => {
    const poisoned = JSON.stringify({ ...valid(), properties: { note: 'a\u0000b' } });
    const refused = await send('/v1/track', poisoned);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: { code: 'INVALID_JSON', message: expect.stringContaining('NUL') as string },
    });
    const surrogate = await send(
      '/v1/track',
      JSON.stringify({ ...valid(), properties: { note: 'a\uD800b' } }),
    );
    expect(surrogate.status).toBe(400);
    expect(await surrogate.json()).toMatchObject({
      error: { message: expect.stringContaining('surrogate') as string },
    });
    // Its dead letter was storable, and the pipeline is not blocked behind it.
    const next = valid();
    expect((await send('/v1/track', JSON.stringify(next))).status).toBe(200);
    const stored = await touchline.sql.query(
      "SELECT 1 FROM event_store.events WHERE data->>'messageId' = $1",
      [next.messageId],
    );
    expect(stored.rowCount).toBe(1);
  });

  it('refuses a body over the limit with 413 and a JSON error', async () => {
    const big = JSON.stringify({
      batch: Array.from({ length: 600 }, () => ({
        ...valid(),
        properties: { pad: 'x'.repeat(1_000) },
      })),
    });
    const response = await send('/v1/batch', big);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    // Far over the limit, the server answers 413 without reading the rest and closes the
    // connection; a client still writing may see that as a broken pipe instead of the answer.
    // Either way the body was refused, and the server goes on serving.
    const huge = await send('/v1/batch', 'x'.repeat(3 * 1024 * 1024)).catch((error: unknown) => {
      const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'EPIPE' || code === 'ECONNRESET') return null;
      throw error;
    });
    if (huge !== null) expect(huge.status).toBe(413);
    const after = await send('/v1/batch', JSON.stringify({ batch: [valid()] }));
    expect(after.status).toBe(200);
  });
});

function deepObject(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i += 1) value = { nested: value };
  return value;
}
