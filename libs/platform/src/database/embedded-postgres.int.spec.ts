import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { isConnectionError } from './connection-errors';
import { startEmbeddedPostgres } from './embedded-postgres';
import { createPool } from './pool';

jest.setTimeout(60_000);

describe('startEmbeddedPostgres', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'touchline-pglite-'));
  });

  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves pg over TCP and keeps data in dataDir across restarts', async () => {
    const first = await startEmbeddedPostgres({ dataDir });
    expect(first.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const pool = createPool(first.url, { max: 4 });
    await pool.query('CREATE TABLE visits (id text PRIMARY KEY)');
    await pool.query('INSERT INTO visits VALUES ($1), ($2)', ['a', 'b']);
    await pool.end();
    await first.stop();

    const second = await startEmbeddedPostgres({ dataDir });
    const client = new Client({ connectionString: second.url });
    await client.connect();
    const { rows } = await client.query<{ id: string }>('SELECT id FROM visits ORDER BY id');
    await client.end();
    await second.stop();
    expect(rows.map((row) => row.id)).toEqual(['a', 'b']);
  });

  it('stops cleanly while a client still holds an open transaction', async () => {
    const embedded = await startEmbeddedPostgres({ dataDir });
    const client = new Client({ connectionString: embedded.url });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('BEGIN');
    await client.query('CREATE TABLE never_committed (id int)');
    await embedded.stop();

    const error: unknown = await client.query('SELECT 1').catch((e: unknown) => e);
    expect(isConnectionError(error)).toBe(true);

    const again = await startEmbeddedPostgres({ dataDir });
    const check = new Client({ connectionString: again.url });
    await check.connect();
    const { rows } = await check.query("SELECT to_regclass('never_committed') AS table");
    await check.end();
    await again.stop();
    expect(rows).toEqual([{ table: null }]);
  });

  it('serves many pooled connections at once', async () => {
    const embedded = await startEmbeddedPostgres();
    const pool = createPool(embedded.url, { max: 16 });
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        pool.query<{ n: number; s: string }>('SELECT $1::int AS n, $2::text AS s', [i, `v${i}`]),
      ),
    );
    await pool.end();
    await embedded.stop();
    expect(results.map((r) => r.rows[0])).toEqual(
      Array.from({ length: 64 }, (_, i) => ({ n: i, s: `v${i}` })),
    );
  });

  it('reports a refused connection as a connection error once stopped', async () => {
    const embedded = await startEmbeddedPostgres();
    await embedded.stop();
    const pool = createPool(embedded.url, { connectionTimeoutMillis: 2_000 });
    const error: unknown = await pool.query('SELECT 1').catch((e: unknown) => e);
    await pool.end();
    expect(isConnectionError(error)).toBe(true);
  });
});
