import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../database/embedded-postgres';

export interface TestDatabase {
  /** postgres:// URL of a database that belongs to this test file alone. */
  readonly url: string;
  /** Drops the database (PostgreSQL) or stops the embedded server (PGlite). */
  drop(): Promise<void>;
}

export interface TestDatabaseTarget {
  /** Readable name for describe.each, e.g. 'pglite' or 'postgresql'. */
  readonly name: string;
  readonly kind: 'pglite' | 'postgresql';
  /**
   * False on PGlite: it runs one session, so a transaction held open blocks every other
   * connection until it ends. Concurrency tests keep such transactions short there.
   */
  readonly interleavesTransactions: boolean;
  /** Makes a fresh, empty database. */
  create(): Promise<TestDatabase>;
}

const urlVariable = 'TOUCHLINE_TEST_DATABASE_URL';
let skipNoticePrinted = false;

/**
 * The databases a suite runs against: PGlite always; PostgreSQL when TOUCHLINE_TEST_DATABASE_URL
 * is set. With TOUCHLINE_REQUIRE_SERVICES=1 and no URL, a PostgreSQL target whose create()
 * fails, so the suite fails instead of silently skipping.
 *
 *   describe.each(testDatabaseTargets())('$name', (target) => { ... target.create() ... })
 */
export function testDatabaseTargets(env: NodeJS.ProcessEnv = process.env): TestDatabaseTarget[] {
  const targets: TestDatabaseTarget[] = [pgliteTarget()];
  const serverUrl = env[urlVariable];
  if (serverUrl) {
    targets.push(postgresTarget(serverUrl));
  } else if (env['TOUCHLINE_REQUIRE_SERVICES'] === '1') {
    targets.push(missingPostgresTarget());
  } else if (!skipNoticePrinted) {
    skipNoticePrinted = true;
    process.stderr.write(
      `PostgreSQL tests skipped: ${urlVariable} is not set (PGlite still runs)\n`,
    );
  }
  return targets;
}

function pgliteTarget(): TestDatabaseTarget {
  return {
    name: 'pglite',
    kind: 'pglite',
    interleavesTransactions: false,
    create: async () => {
      const embedded = await startEmbeddedPostgres();
      return { url: embedded.url, drop: () => embedded.stop() };
    },
  };
}

function postgresTarget(serverUrl: string): TestDatabaseTarget {
  return {
    name: 'postgresql',
    kind: 'postgresql',
    interleavesTransactions: true,
    create: async () => {
      const database = `tl_test_${randomBytes(6).toString('hex')}`;
      await withAdminClient(serverUrl, (client) => client.query(`CREATE DATABASE ${database}`));
      const url = new URL(serverUrl);
      url.pathname = `/${database}`;
      return {
        url: url.toString(),
        drop: () =>
          withAdminClient(serverUrl, (client) =>
            client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
          ),
      };
    },
  };
}

function missingPostgresTarget(): TestDatabaseTarget {
  return {
    name: 'postgresql (missing)',
    kind: 'postgresql',
    interleavesTransactions: true,
    create: () =>
      Promise.reject(
        new Error(
          `TOUCHLINE_REQUIRE_SERVICES=1 but ${urlVariable} is not set: cannot reach PostgreSQL`,
        ),
      ),
  };
}

async function withAdminClient(
  url: string,
  work: (client: Client) => Promise<unknown>,
): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
