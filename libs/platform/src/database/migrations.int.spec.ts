import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { testDatabaseTargets, type TestDatabase } from '../testing';
import {
  MigrationChecksumMismatchError,
  InvalidMigrationsError,
  runMigrations,
} from './migrations';
import { createPool } from './pool';

jest.setTimeout(60_000);

describe.each(testDatabaseTargets())('runMigrations on $name', (target) => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await target.create();
    pool = createPool(database.url);
  });

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  const component = () => `test_${randomUUID().replaceAll('-', '')}`;
  const migrationsFor = (schema: string) => [
    {
      version: 1,
      name: 'create schema',
      sql: `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.a (id int);`,
    },
    { version: 2, name: 'add column', sql: `ALTER TABLE ${schema}.a ADD COLUMN label text;` },
  ];

  it('applies pending migrations in order, once', async () => {
    const name = component();
    const migrations = migrationsFor(name);
    const first = await runMigrations(pool, { name, migrations: [migrations[1]!, migrations[0]!] });
    const second = await runMigrations(pool, { name, migrations });

    expect(first.applied).toEqual([
      { version: 1, name: 'create schema' },
      { version: 2, name: 'add column' },
    ]);
    expect(second.applied).toEqual([]);
    const { rows } = await pool.query(
      'SELECT version, name FROM public.touchline_migrations WHERE component = $1 ORDER BY version',
      [name],
    );
    expect(rows).toEqual([
      { version: 1, name: 'create schema' },
      { version: 2, name: 'add column' },
    ]);
    await pool.query(`INSERT INTO ${name}.a (id, label) VALUES (1, 'ok')`);
  });

  it('serializes concurrent runs: each migration is applied exactly once', async () => {
    const name = component();
    const migrations = migrationsFor(name);
    const reports = await Promise.all(
      Array.from({ length: 4 }, () => runMigrations(pool, { name, migrations })),
    );
    expect(reports.flatMap((report) => report.applied.map((m) => m.version)).sort()).toEqual([
      1, 2,
    ]);
  });

  it('refuses to run when an applied migration was edited, naming it', async () => {
    const name = component();
    const migrations = migrationsFor(name);
    await runMigrations(pool, { name, migrations: migrations.slice(0, 1) });
    const edited = [{ ...migrations[0]!, sql: `${migrations[0]!.sql} -- edited` }, migrations[1]!];

    const error: unknown = await runMigrations(pool, { name, migrations: edited }).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(MigrationChecksumMismatchError);
    expect(error).toMatchObject({
      code: 'MIGRATION_CHECKSUM_MISMATCH',
      version: 1,
      migrationName: 'create schema',
    });
    const { rows } = await pool.query(
      'SELECT version FROM public.touchline_migrations WHERE component = $1',
      [name],
    );
    expect(rows).toEqual([{ version: 1 }]);
  });

  it('rolls back a failing migration and keeps the earlier ones', async () => {
    const name = component();
    const migrations = [
      migrationsFor(name)[0]!,
      { version: 2, name: 'broken', sql: 'SELECT * FROM no_such_table' },
    ];
    await expect(runMigrations(pool, { name, migrations })).rejects.toThrow(/no_such_table/);
    const { rows } = await pool.query(
      'SELECT version FROM public.touchline_migrations WHERE component = $1',
      [name],
    );
    expect(rows).toEqual([{ version: 1 }]);
  });

  it('rejects duplicate versions before touching the database', async () => {
    const name = component();
    const [first] = migrationsFor(name);
    await expect(
      runMigrations(pool, { name, migrations: [first!, { ...first!, name: 'again' }] }),
    ).rejects.toBeInstanceOf(InvalidMigrationsError);
  });
});
