import type { PoolClient } from 'pg';
import type { Projection } from '../projector/projection';

/**
 * Indexes a replay from position zero builds once at the end instead of row by row
 * (docs/operations.md, "Indexes built after the replay"). Inserting a million rows into a
 * B-tree keyed by random event ids touches a random page per row; building the index afterwards
 * is one sort. Only the indexes a projection names (Projection.indexesBuiltAfterReplay) are set
 * aside: the ones its batches never read through and no ON CONFLICT needs.
 */
export interface SetAsideIndex {
  readonly schema: string;
  readonly table: string;
  /** The index's name in its schema (a copy's indexes are named by PostgreSQL, not by us). */
  readonly name: string;
  /** What builds it again: CREATE INDEX, or ALTER TABLE ... ADD CONSTRAINT for a primary key. */
  readonly definition: string;
}

interface IndexRow {
  schema: string;
  table: string;
  name: string;
  /** pg_get_indexdef from " USING " on: the same for a table's copy made with LIKE. */
  shape: string;
  index_definition: string;
  constraint_name: string | null;
  constraint_definition: string | null;
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/** Every index of the tables named in `schema`, with what identifies it across copies. */
async function indexesOf(
  client: PoolClient,
  schema: string,
  tables: readonly string[],
): Promise<IndexRow[]> {
  const { rows } = await client.query<IndexRow>(
    `SELECT n.nspname AS schema, t.relname AS "table", i.relname AS name,
            substr(pg_get_indexdef(x.indexrelid), strpos(pg_get_indexdef(x.indexrelid), ' USING ')) AS shape,
            pg_get_indexdef(x.indexrelid) AS index_definition,
            c.conname AS constraint_name, pg_get_constraintdef(c.oid) AS constraint_definition
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
      WHERE n.nspname = $1 AND t.relname = ANY($2)`,
    [schema, tables],
  );
  return rows;
}

/**
 * Drop, in `schema`, the indexes `projection` lets a replay from zero build at the end, and say
 * how to build each again. The projection names them as its live tables have them (in the
 * schema of `projection.tables`); a copy of those tables in another schema has the same indexes
 * under names PostgreSQL chose, found by table and shape. `missing`: names an earlier rebuild
 * set aside and could not build again, absent from the live tables for now. Runs in the
 * caller's transaction.
 */
export async function setAsideIndexes(
  client: PoolClient,
  projection: Projection,
  schema: string,
  missing: ReadonlySet<string> = new Set(),
): Promise<SetAsideIndex[]> {
  const wanted = projection.indexesBuiltAfterReplay ?? [];
  const liveTables = projection.tables ?? [];
  if (wanted.length === 0 || liveTables.length === 0) return [];
  const liveSchema = liveTables[0]?.split('.')[0] ?? '';
  const tableNames = liveTables.map((table) => table.split('.')[1] ?? '');
  const live = await indexesOf(client, liveSchema, tableNames);
  const unknown = wanted.filter(
    (name) => !missing.has(name) && !live.some((index) => index.name === name),
  );
  if (unknown.length > 0) {
    // A renamed index in a migration would otherwise quietly stop being set aside.
    throw new Error(
      `${projection.name} names indexes its tables do not have: ${unknown.join(', ')} (Projection.indexesBuiltAfterReplay)`,
    );
  }
  const targets = schema === liveSchema ? live : await indexesOf(client, schema, tableNames);
  const setAside: SetAsideIndex[] = [];
  for (const name of wanted) {
    const model = live.find((index) => index.name === name);
    // Missing from the live tables: the copy (made like them) lacks it too.
    if (model === undefined) continue;
    const index = targets.find(
      (candidate) =>
        candidate.table === model.table &&
        candidate.shape === model.shape &&
        (candidate.constraint_name === null) === (model.constraint_name === null),
    );
    // Set aside before (a resumed copy): nothing to drop.
    if (index === undefined) continue;
    const table = `${quote(index.schema)}.${quote(index.table)}`;
    const where = { schema: index.schema, table: index.table, name: index.name };
    if (index.constraint_name !== null) {
      const constraint = quote(index.constraint_name);
      await client.query(`ALTER TABLE ${table} DROP CONSTRAINT ${constraint}`);
      setAside.push({
        ...where,
        definition: `ALTER TABLE ${table} ADD CONSTRAINT ${constraint} ${index.constraint_definition ?? ''}`,
      });
    } else {
      await client.query(`DROP INDEX ${quote(index.schema)}.${quote(index.name)}`);
      setAside.push({ ...where, definition: index.index_definition });
    }
  }
  return setAside;
}

/**
 * Build the set-aside indexes again, skipping any that exist (a restore that was interrupted
 * halfway and runs again). Runs in the caller's transaction.
 */
export async function restoreIndexes(
  client: PoolClient,
  indexes: readonly SetAsideIndex[],
): Promise<void> {
  const { rows: setting } = await client.query<{ path: string }>(
    `SELECT current_setting('search_path') AS path`,
  );
  for (const index of indexes) {
    // pg_get_indexdef leaves out a schema that is on the search path: build where it was.
    await client.query(`SELECT set_config('search_path', $1, true)`, [
      `${quote(index.schema)}, pg_catalog`,
    ]);
    const { rows } = await client.query<{ present: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace
                       WHERE n.nspname = $1 AND i.relname = $2) AS present`,
      [index.schema, index.name],
    );
    if (!rows[0]?.present) await client.query(index.definition);
  }
  await client.query(`SELECT set_config('search_path', $1, true)`, [setting[0]?.path ?? '']);
}
