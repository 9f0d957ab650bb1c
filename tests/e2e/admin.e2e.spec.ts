import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  basicAuth,
  eventually,
  REPO_ROOT,
  type ServerProcess,
  startServer,
} from './support/server-process';

const run = promisify(execFile);

/**
 * Administration through the `touchline` CLI and the admin API: sources with their own write
 * keys and rate limits, dead letters fixed and resubmitted without duplicates, keys revoked,
 * every action audited.
 */
describe('administration (CLI and admin API), embedded mode', () => {
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;

  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(process.execPath, [
      path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
      '--url',
      server.url,
      '--key',
      apiKey,
      ...args,
    ]);
    return stdout;
  };
  const cliJson = async <T>(...args: string[]): Promise<T> =>
    JSON.parse(await cli(...args, '--json')) as T;
  const admin = (route: string, init: RequestInit = {}) =>
    fetch(`${server.url}${route}`, {
      ...init,
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-admin-'));
    server = await startServer({ TOUCHLINE_DATA_DIR: dataDir });
    apiKey = (
      JSON.parse(await readFile(path.join(dataDir, 'credentials.json'), 'utf8')) as {
        apiKey: string;
      }
    ).apiKey;
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a source whose write key works, is rate limited, and stops working once revoked', async () => {
    const sourceId = `shop-${randomUUID().slice(0, 8)}`;
    const source = await cliJson<{ key: string; keyId: string; sourceId: string }>(
      'sources',
      'create',
      sourceId,
      '--channel',
      'web',
      '--rate-limit',
      '5',
    );
    expect(source.sourceId).toBe(sourceId);
    const track = () =>
      fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(source.key) },
        body: JSON.stringify({
          batch: Array.from({ length: 6 }, (_, i) => ({
            type: 'track',
            userId: 'rl',
            event: `E${i}`,
          })),
        }),
      });
    // The bucket holds two seconds' worth (10 events): the second batch of 6 is over it.
    expect((await track()).status).toBe(200);
    const limited = await track();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });

    expect(await cli('keys', 'list')).toContain(sourceId);
    expect(await cli('keys', 'revoke', source.keyId)).toContain('revoked');
    expect(await cli('keys', 'revoke', source.keyId)).toContain('already revoked');
    expect((await track()).status).toBe(401);
    const audit = await cliJson<{
      items: Array<{ action: string; target: string; outcome: string }>;
    }>('audit');
    expect(audit.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'source.create', target: source.keyId, outcome: 'done' }),
        expect.objectContaining({ action: 'key.revoke', target: source.keyId, outcome: 'done' }),
        expect.objectContaining({ action: 'key.revoke', target: source.keyId, outcome: 'no-op' }),
      ]),
    );
  });

  it('lists a rejected event as a dead letter, resubmits it fixed, and stores it once however often it is resubmitted', async () => {
    const writeKey = (
      JSON.parse(await readFile(path.join(dataDir, 'credentials.json'), 'utf8')) as {
        writeKey: string;
      }
    ).writeKey;
    const userId = `dl-${randomUUID()}`;
    const bad = await fetch(`${server.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
      body: JSON.stringify({ userId, properties: { note: 'no event name' } }),
    });
    expect(bad.status).toBe(400);
    const letter = await eventually(async () => {
      const list = await cliJson<{
        items: Array<{ id: string; reasonCode: string; reason: string }>;
      }>('dead-letters', 'list', '--limit', '20');
      return list.items.find(
        (item) => item.reason.includes('event') && item.reasonCode === 'INVALID_EVENT',
      );
    });
    const shown = await cli('dead-letters', 'show', letter.id);
    expect(shown).toContain(userId);

    // As it was, it is still rejected, and no second dead letter is made.
    const again = await cliJson<{ resubmitted: boolean; results: Array<{ status: string }> }>(
      'dead-letters',
      'resubmit',
      letter.id,
    );
    expect(again).toMatchObject({ resubmitted: false, results: [{ status: 'rejected' }] });

    const fixed = path.join(dataDir, 'fixed.json');
    await writeFile(
      fixed,
      JSON.stringify({ userId, event: 'Fixed Event', properties: { note: 'repaired' } }),
    );
    for (let i = 0; i < 2; i += 1) {
      const result = await cliJson<{ resubmitted: boolean }>(
        'dead-letters',
        'resubmit',
        letter.id,
        '--payload',
        fixed,
      );
      expect(result.resubmitted).toBe(true);
    }
    const summary = await eventually(async () => {
      const response = await admin(`/v1/customers/${userId}`);
      return response.status === 200
        ? ((await response.json()) as { totalEvents: number; lastContact: { name: string } })
        : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(summary.lastContact.name).toBe('Fixed Event');
    expect(
      ((await (await admin(`/v1/customers/${userId}`)).json()) as { totalEvents: number })
        .totalEvents,
    ).toBe(1);
    const listed = await cliJson<{ items: Array<{ id: string; resubmittedAt: string | null }> }>(
      'dead-letters',
      'list',
    );
    expect(listed.items.find((item) => item.id === letter.id)?.resubmittedAt).not.toBeNull();
  });

  it('refuses admin calls without an admin key, and names bad parameters', async () => {
    expect((await fetch(`${server.url}/v1/admin/keys`)).status).toBe(401);
    const analyst = await cliJson<{ key: string }>(
      'keys',
      'create',
      '--role',
      'analyst',
      '--label',
      'bi tool',
    );
    const asAnalyst = await fetch(`${server.url}/v1/admin/keys`, {
      headers: { authorization: `Bearer ${analyst.key}` },
    });
    expect(asAnalyst.status).toBe(403);
    const badLimit = await admin('/v1/admin/dead-letters?limit=0;DROP');
    expect(badLimit.status).toBe(400);
    expect(await badLimit.json()).toMatchObject({
      error: { code: 'INVALID_REQUEST', message: expect.stringContaining('limit') as string },
    });
    const unknown = await admin(`/v1/admin/dead-letters/${randomUUID()}/resubmit`, {
      method: 'POST',
      body: '{}',
    });
    expect(unknown.status).toBe(404);
    await expect(
      run(process.execPath, [
        path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
        '--url',
        'http://127.0.0.1:1',
        '--key',
        'x',
        'keys',
        'list',
      ]),
    ).rejects.toMatchObject({
      stderr: expect.stringContaining('Cannot reach') as string,
    });
  });

  it('exports everything held about a customer as JSON, for admins only, and audits it', async () => {
    const writeKey = (
      JSON.parse(await readFile(path.join(dataDir, 'credentials.json'), 'utf8')) as {
        writeKey: string;
      }
    ).writeKey;
    const userId = `export-${randomUUID()}`;
    const sent = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
      body: JSON.stringify({
        batch: [
          { type: 'identify', userId, traits: { plan: 'pro' } },
          { type: 'track', userId, event: 'Report Exported' },
        ],
      }),
    });
    expect(sent.status).toBe(200);
    const exported = await eventually(async () => {
      const response = await admin(`/v1/admin/customers/${userId}/export`);
      const body =
        response.status === 200
          ? ((await response.json()) as {
              customerKey: string;
              events: Array<{ type: string; data: { userId: string } }>;
              readModels: Record<string, unknown[]>;
            })
          : undefined;
      return body && body.readModels['read_models.customer_activity']?.length === 1
        ? body
        : undefined;
    });
    expect(exported.customerKey).toBe(`user:${userId}`);
    expect(exported.events.map((e) => e.type)).toEqual(['UserIdentified', 'WebEventTracked']);
    expect(exported.events[0]?.data.userId).toBe(userId);
    expect(Object.keys(exported.readModels)).toEqual(
      expect.arrayContaining(['read_models.customer_value', 'models.clv_scores']),
    );

    expect((await admin(`/v1/admin/customers/nobody-${randomUUID()}/export`)).status).toBe(404);
    const analyst = await cliJson<{ key: string }>(
      'keys',
      'create',
      '--role',
      'analyst',
      '--label',
      'export check',
    );
    const forbidden = await fetch(`${server.url}/v1/admin/customers/${userId}/export`, {
      headers: { authorization: `Bearer ${analyst.key}` },
    });
    expect(forbidden.status).toBe(403);
    const audit = await cliJson<{ items: Array<{ action: string; outcome: string }> }>('audit');
    expect(audit.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'customer.export', outcome: 'done' }),
        expect.objectContaining({ action: 'customer.export', outcome: 'not-found' }),
      ]),
    );
  });
});
