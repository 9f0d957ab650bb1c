// Stage 10, parallel projectors (issue 6): how catching up scales with segments and processes.
// One database of its own holds N stored track events (made by the platform's own collector and
// recorder code, ingested through PostgresEventStore; not measured). Then customer_activity
// catches up from position zero, three ways, each timed from "the projector process is running"
// to "every segment's checkpoint is at the head":
//   S1. one process, the projection unsplit (the baseline);
//   S2. one process, 2 segments;
//   S3. two processes, 2 segments (one each, spread by the balancer).
// Only customer_activity runs in these processes (TOUCHLINE_PROJECTIONS), so the figures are its own.
// `node tests/bench/run.mjs --only=segments`.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { fmtInt, log, now, Progress, round, table } from '../lib/report.mjs';
import { createDatabase, onCleanup } from '../lib/services.mjs';
import { startServer } from '../lib/server.mjs';
import { benchRequire, envelopes, ingestBatches, messages } from '../lib/workload.mjs';

const PROJECTION = 'customer_activity';
const CHUNK = 20_000;

async function storeEvents(db, count, dataDir) {
  // The server creates the schema (and the master key its processes share) at start-up.
  const setup = await startServer('collector,recorder,query', {
    DATABASE_URL: db.url,
    TOUCHLINE_DATA_DIR: dataDir,
  });
  await setup.stop();
  const { PostgresEventStore } = benchRequire('@touchline/event-store-postgres');
  const { ingestTopics } = benchRequire('@touchline/messaging');
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const store = new PostgresEventStore({ pool });
  const progress = new Progress('store events', count);
  let stored = 0;
  for (let from = 0; from < count; from += CHUNK) {
    const size = Math.min(CHUNK, count - from);
    const outbound = await envelopes(
      ingestTopics('bench'),
      messages('seg', from, size, Math.ceil(count / 20)),
    );
    for (const batches of await ingestBatches(outbound, 6, 500)) {
      const result = await store.ingest(batches);
      stored += result.stored;
      progress.update(stored);
    }
  }
  progress.finish();
  await store.close?.();
  await pool.end();
  return stored;
}

/** Checkpoint positions of the projection (its own row or its segments'), and the head. */
async function positions(sql) {
  const { rows } = await sql.query(
    `SELECT projection, position::text AS position FROM projections.checkpoints
      WHERE projection = $1 OR starts_with(projection, $1 || '#')`,
    [PROJECTION],
  );
  return rows.map((r) => ({ name: r.projection, position: BigInt(r.position) }));
}

async function catchUp(db, sql, dataDir, head, { segments, processes }) {
  await sql.query(`TRUNCATE read_models.${PROJECTION}`);
  await sql.query(
    `DELETE FROM projections.checkpoints WHERE projection = $1 OR starts_with(projection, $1 || '#')`,
    [PROJECTION],
  );
  await sql.query('DELETE FROM projections.projector_instances');
  const env = {
    DATABASE_URL: db.url,
    TOUCHLINE_DATA_DIR: dataDir,
    TOUCHLINE_PROJECTIONS: PROJECTION,
    ...(segments > 1 ? { TOUCHLINE_PROJECTION_SEGMENTS: `${PROJECTION}=${segments}` } : {}),
  };
  const servers = await Promise.all(
    Array.from({ length: processes }, () => startServer('projector', env)),
  );
  const t0 = now();
  const label = `${segments} segment${segments > 1 ? 's' : ''}, ${processes} process${processes > 1 ? 'es' : ''}`;
  const progress = new Progress(label, Number(head));
  for (;;) {
    const rows = await positions(sql);
    const done = segments > 1 ? rows.filter((r) => r.name.includes('#')) : rows;
    const slowest =
      done.length < segments ? 0n : done.reduce((m, r) => (r.position < m ? r.position : m), head);
    progress.update(Number(slowest));
    if (slowest >= head) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seconds = (now() - t0) / 1000;
  progress.finish();
  await Promise.all(servers.map((s) => s.stop()));
  return { segments, processes, seconds: round(seconds, 2) };
}

export async function segmentStage(ctx, results) {
  const count = ctx.mode === 'quick' ? 100_000 : 400_000;
  const db = await createDatabase('segments');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tl-bench-segments-'));
  onCleanup('segments data directory', () => rm(dataDir, { recursive: true, force: true }));
  const stored = await storeEvents(db, count, dataDir);
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  try {
    const { rows } = await sql.query(
      'SELECT max(global_position)::text AS head FROM event_store.events',
    );
    const head = BigInt(rows[0].head);
    const runs = [];
    for (const shape of [
      { segments: 1, processes: 1 },
      { segments: 2, processes: 1 },
      { segments: 2, processes: 2 },
    ]) {
      const run = await catchUp(db, sql, dataDir, head, shape);
      runs.push({ ...run, perSecond: Math.round(stored / run.seconds) });
    }
    const base = runs[0].perSecond;
    log(
      table(
        ['customer_activity catching up', 'seconds', 'events/s', 'ratio to S1'],
        runs.map((r, i) => [
          `S${i + 1}  ${r.segments} segment(s), ${r.processes} process(es)`,
          String(r.seconds),
          fmtInt(r.perSecond),
          `${round(r.perSecond / base, 2)}×`,
        ]),
      ),
    );
    results.segments = { events: stored, runs };
  } finally {
    await sql.end();
  }
}
