import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestDatabase } from '@touchline/platform/testing';
import { basicAuth, eventually, type ServerProcess, startServer } from './support/server-process';
import { describeFullMode, postgresTarget } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

/**
 * PostgreSQL goes away while Touchline runs: writes and reads answer 503 with Retry-After (never
 * a 200 for an event that was not stored), and everything comes back by itself when it returns.
 */
describeFullMode('when PostgreSQL is away', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: ServerProcess;
  let dataDir: string;
  let keys: { writeKey: string; apiKey: string };

  beforeAll(async () => {
    database = await postgresTarget().create();
    const target = new URL(database.url);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-outage-'));
    // All roles in one process over PostgreSQL, with the in-process transport.
    server = await startServer({ DATABASE_URL: proxied.toString(), TOUCHLINE_DATA_DIR: dataDir });
    keys = JSON.parse(
      await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
    ) as typeof keys;
  });

  afterAll(async () => {
    await server?.stop();
    await proxy?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  // A fixed messageId per event: a retried send is the same event, as with Segment's clients.
  // Like those clients, retry a request whose connection dropped before an answer (seen rarely
  // under heavy load while the database connections are being cut); the answer must still be 503.
  const track = async (userId: string, event: string): Promise<Response> => {
    const send = () =>
      fetch(`${server.url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(keys.writeKey) },
        body: JSON.stringify({ userId, event, messageId: `${userId}-${event}` }),
      });
    try {
      return await send();
    } catch (error) {
      process.stderr.write(
        `connection dropped (${String((error as Error).cause ?? error)}); retrying once; server log:\n${server.output.slice(-15).join('\n')}\n`,
      );
      return send();
    }
  };
  const customer = (userId: string) =>
    fetch(`${server.url}/v1/customers/${userId}`, {
      headers: { authorization: `Bearer ${keys.apiKey}` },
    });

  it('answers 503 with Retry-After while it is away, and recovers without a restart', async () => {
    const userId = `outage-${randomUUID()}`;
    expect((await track(userId, 'Before')).status).toBe(200);
    await eventually(async () => ((await customer(userId)).status === 200 ? true : undefined));

    proxy.cut();
    const refused = await track(userId, 'During');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ error: { code: 'SERVICE_UNAVAILABLE' } });
    const read = await customer(userId);
    expect(read.status).toBe(503);
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(503);

    proxy.restore();
    // The client retries what was refused, as Segment's clients do; then sends more.
    for (const event of ['During', 'After']) {
      const accepted = await eventually(
        async () => {
          const response = await track(userId, event);
          return response.status === 200 ? response : undefined;
        },
        30_000,
        500,
      );
      expect(accepted.status).toBe(200);
    }
    const summary = await eventually(
      async () => {
        const response = await customer(userId);
        const body =
          response.status === 200
            ? ((await response.json()) as { totalEvents: number; lastContact: { name: string } })
            : undefined;
        return body?.lastContact.name === 'After' && body.totalEvents >= 3 ? body : undefined;
      },
      60_000,
      500,
    );
    // A refused event may still have been kept (at-least-once), but a retry never doubles it.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(((await (await customer(userId)).json()) as { totalEvents: number }).totalEvents).toBe(
      3,
    );
    expect(summary.lastContact.name).toBe('After');
  });
});
