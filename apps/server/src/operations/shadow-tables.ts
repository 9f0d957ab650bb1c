import type { PoolClient } from 'pg';

/**
 * The tables of blue/green rebuilds (docs/operations.md, "Blue/green rebuilds"). A projection's
 * live tables stay where queries, views and the BI role's grants point; the next version is built
 * in NEXT_SCHEMA under the same table names, and the version a switch replaced is kept in
 * PREVIOUS_SCHEMA for rollback. Neither schema is granted to anyone.
 */
export const NEXT_SCHEMA = 'read_models_next';
export const PREVIOUS_SCHEMA = 'read_models_previous';

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** `read_models.customer_activity` → the quoted live name and the same table in `schema`. */
function names(table: string, schema: string): { live: string; other: string } {
  const [liveSchema = '', name = ''] = table.split('.');
  return { live: `${quote(liveSchema)}.${quote(name)}`, other: `${quote(schema)}.${quote(name)}` };
}

/** The projection's table names in another schema (what its `inSchema` copy writes). */
export function tablesIn(tables: readonly string[], schema: string): string[] {
  return tables.map((table) => `${schema}.${table.split('.')[1] ?? ''}`);
}

/** Empty copies of the live tables (columns, defaults, constraints, indexes) in `schema`. */
export async function createEmptyCopies(
  client: PoolClient,
  tables: readonly string[],
  schema: string,
): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`);
  for (const table of tables) {
    const { live, other } = names(table, schema);
    await client.query(`DROP TABLE IF EXISTS ${other}`);
    await client.query(`CREATE TABLE ${other} (LIKE ${live} INCLUDING ALL)`);
  }
}

export async function dropCopies(
  client: PoolClient,
  tables: readonly string[],
  schema: string,
): Promise<void> {
  for (const table of tables)
    await client.query(`DROP TABLE IF EXISTS ${names(table, schema).other}`);
}

/**
 * Replace the live rows with the rows of `from`, keeping the live rows in `keepIn` first. Run in
 * the caller's transaction: readers see the old rows until it commits, then the new ones (DELETE,
 * not TRUNCATE, so readers are never blocked while it runs). The cost is a copy of the rows.
 */
export async function replaceLiveRows(
  client: PoolClient,
  tables: readonly string[],
  from: string,
  keepIn: string,
): Promise<void> {
  await createEmptyCopies(client, tables, keepIn);
  for (const table of tables) {
    const { live, other: kept } = names(table, keepIn);
    const source = names(table, from).other;
    await client.query(`INSERT INTO ${kept} OVERRIDING SYSTEM VALUE SELECT * FROM ${live}`);
    await client.query(`DELETE FROM ${live}`);
    await client.query(`INSERT INTO ${live} OVERRIDING SYSTEM VALUE SELECT * FROM ${source}`);
  }
}

export interface TableDifference {
  readonly table: string;
  readonly liveRows: number;
  readonly rebuiltRows: number;
  /** Rows (as whole rows, with multiplicity) only in the live table / only in the rebuilt one. */
  readonly onlyInLive: number;
  readonly onlyInRebuilt: number;
  /** Primary keys of up to five differing rows, for a look at them. */
  readonly sampleKeys: readonly string[];
}

/** Compare the rebuilt tables in `schema` with the live ones, row for row. */
export async function compareWithLive(
  client: PoolClient,
  tables: readonly string[],
  schema: string,
): Promise<TableDifference[]> {
  const differences: TableDifference[] = [];
  for (const table of tables) {
    const { live, other } = names(table, schema);
    const { rows } = await client.query<{
      live_rows: string;
      rebuilt_rows: string;
      only_live: string;
      only_rebuilt: string;
    }>(
      `SELECT (SELECT count(*) FROM ${live})::text AS live_rows,
              (SELECT count(*) FROM ${other})::text AS rebuilt_rows,
              (SELECT count(*) FROM (TABLE ${live} EXCEPT ALL TABLE ${other}) d)::text AS only_live,
              (SELECT count(*) FROM (TABLE ${other} EXCEPT ALL TABLE ${live}) d)::text AS only_rebuilt`,
    );
    const row = rows[0];
    const onlyInLive = Number(row?.only_live ?? 0);
    const onlyInRebuilt = Number(row?.only_rebuilt ?? 0);
    let sampleKeys: string[] = [];
    if (onlyInLive + onlyInRebuilt > 0) {
      const key = await primaryKeyColumns(client, table);
      if (key.length > 0) {
        const columns = key.map(quote).join(', ');
        const sample = await client.query<{ key: string }>(
          `SELECT DISTINCT row_to_json(d)::text AS key FROM (
             (SELECT ${columns} FROM (TABLE ${live} EXCEPT ALL TABLE ${other}) a)
             UNION ALL (SELECT ${columns} FROM (TABLE ${other} EXCEPT ALL TABLE ${live}) b)) d
           ORDER BY 1 LIMIT 5`,
        );
        sampleKeys = sample.rows.map((r) => r.key);
      }
    }
    differences.push({
      table,
      liveRows: Number(row?.live_rows ?? 0),
      rebuiltRows: Number(row?.rebuilt_rows ?? 0),
      onlyInLive,
      onlyInRebuilt,
      sampleKeys,
    });
  }
  return differences;
}

async function primaryKeyColumns(client: PoolClient, table: string): Promise<string[]> {
  const { rows } = await client.query<{ column: string }>(
    `SELECT a.attname AS column
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = $1::regclass AND i.indisprimary
      ORDER BY array_position(i.indkey, a.attnum)`,
    [table],
  );
  return rows.map((r) => r.column);
}
