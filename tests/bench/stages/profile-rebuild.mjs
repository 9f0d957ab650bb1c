// Stage 9, rebuild of the unified customer profile (issue 6 item 7), on a database of its own:
//   - 1,000,000 events of the profile stage's generated mix (the same generator, one population
//     of about 130,000 visitors), turned into stored events by the platform's own code
//     (collector, mappers, recorder) in chunks and ingested (not measured);
//   F. baseline: the one-row projection rebuilt through the same path over the same events;
//   9. the customer_profiles projection rebuilt from position zero through the real
//      ProjectionRebuilder (apps/server/src/operations/projection-rebuilder.ts): its lock, the
//      emptying of the tables, the replay through applyBatchWithCheckpoint, its progress rows.
// `node tests/bench/run.mjs --only=profile-rebuild` runs only this stage (about 10 minutes).
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CpuMeter, cpuCeiling, describeCeiling, describeCpu } from '../lib/cpu.mjs';
import { profileEnvelopes, profileMix } from '../lib/profile-workload.mjs';
import { fmtInt, loadavg, log, now, Progress, round, table } from '../lib/report.mjs';
import { backendPids, createDatabase, REPO_ROOT } from '../lib/services.mjs';
import { benchRequire, ingestBatches, serverDist } from '../lib/workload.mjs';
import { migrate, oneRowProjection, profileProjection } from './profiles.mjs';

const TARGET_EVENTS_PER_SECOND = 50_000;
/** Items of the mix through the collector and recorder at once (bounds the memory). */
const PREPARE_CHUNK = 100_000;

/** Whether this run includes the stage: no --only, or --only naming it. */
export function profileRebuildRequested(argv) {
  const only = argv.find((a) => a.startsWith('--only='));
  return !only || only.slice(7).split(',').includes('profile-rebuild');
}

/** Whether the run is this stage alone (run.mjs then skips the other stages). */
export function onlyProfileRebuild(argv) {
  const only = argv.find((a) => a.startsWith('--only='));
  return only !== undefined && only.slice(7) === 'profile-rebuild';
}

function eventsWanted(argv) {
  const raw = process.env.TOUCHLINE_BENCH_REBUILD_EVENTS;
  if (raw !== undefined && raw !== '') {
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error('TOUCHLINE_BENCH_REBUILD_EVENTS must be a whole number');
    return value;
  }
  return argv.includes('--quick') ? 200_000 : 1_000_000;
}

export async function runProfileRebuild(argv) {
  const startedAt = new Date();
  log(
    `\n▶ 9. Rebuild of the customer profile projection (issue 6), load average ${loadavg().join(' ')}`,
  );
  const before = loadavg();
  const results = await profileRebuildStage(eventsWanted(argv));
  const after = loadavg();
  const rows = [
    [
      'F  one-row projection rebuild (baseline)',
      `${fmtInt(results.baseline.perSecond)} ev/s`,
      '-',
      '-',
      '-',
      '-',
    ],
    [
      '9  customer_profiles rebuild, 1 process',
      `${fmtInt(results.profiles.perSecond)} ev/s`,
      `F ${fmtInt(results.baseline.perSecond)}`,
      `${Math.round((100 * results.profiles.perSecond) / results.baseline.perSecond)}%`,
      `≥ ${fmtInt(TARGET_EVENTS_PER_SECOND)} ev/s`,
      results.profiles.perSecond >= TARGET_EVENTS_PER_SECOND ? 'yes' : 'NO',
    ],
  ];
  log(`\n${table(['stage', 'figure', 'baseline', 'ratio', 'target', 'met?'], rows)}`);
  log(
    `CPU ceilings (docs/benchmarks.md, "The CPU ceiling"):` +
      `\n  F  ${describeCeiling(results.baseline.ceiling)}` +
      `\n  9  ${describeCeiling(results.profiles.ceiling, TARGET_EVENTS_PER_SECOND)}`,
  );
  log(`Load average (1-min) before → after: ${before[0]} → ${after[0]}`);
  const dir = path.join(REPO_ROOT, 'bench-results');
  await mkdir(dir, { recursive: true });
  const file = path.join(
    dir,
    `${startedAt.toISOString().replace(/[:.]/g, '-')}-profile-rebuild.json`,
  );
  await writeFile(
    file,
    JSON.stringify({ startedAt, load: { before, after }, ...results }, null, 2),
  );
  log(`Results written to ${path.relative(REPO_ROOT, file)}.`);
}

async function profileRebuildStage(total) {
  const pg = benchRequire('pg');
  // Dropped by the run's cleanup (run.mjs, or bench.mjs at its end).
  const db = await createDatabase('rebuild');
  await migrate(db.url);
  {
    // The rebuild's bookkeeping (projections.rebuilds): what the operations module runs.
    const { createPool, runMigrations } = benchRequire('@touchline/platform');
    const { operationsMigrationSet } = serverDist('operations/operations.migrations.js');
    const admin = createPool(db.url);
    await runMigrations(admin, operationsMigrationSet).finally(() => admin.end());
  }
  const pool = new pg.Pool({
    connectionString: db.url,
    max: 10,
    application_name: 'touchline-bench',
  });
  const monitor = new pg.Client({ connectionString: db.url });
  await monitor.connect();
  try {
    const stored = await storeMix(pool, total);
    log(`  database ${db.name}: ${fmtInt(stored)} events stored`);
    const postgresPids = () => backendPids(monitor, [db.name]);
    const baseline = await rebuild(
      'baseline F: one-row projection',
      oneRowProjection(),
      pool,
      stored,
      postgresPids,
    );
    const profiles = await rebuild(
      'customer_profiles',
      profileProjection(),
      pool,
      stored,
      postgresPids,
    );
    const { rows } = await monitor.query(`SELECT
        (SELECT count(*) FROM read_models.customer_profiles)::int AS profiles,
        (SELECT count(*) FROM read_models.customer_identifiers)::int AS identifiers,
        (SELECT count(*) FROM read_models.profile_recompute_pending)::int AS pending`);
    log(`  read model after the rebuild: ${JSON.stringify(rows[0])}`);
    if (rows[0].pending !== 0) throw new Error('the rebuild left profiles to recompute');
    return { events: stored, baseline, profiles: { ...profiles, readModel: rows[0] } };
  } finally {
    await monitor.end();
    await pool.end();
  }
}

/**
 * The profile stage's generated mix, through the platform's code, in chunks (not measured).
 * Also the events node-cost.mjs measures.
 */
export async function storeMix(pool, target) {
  const { PostgresEventStore } = benchRequire('@touchline/event-store-postgres');
  const { ingestTopics } = benchRequire('@touchline/messaging');
  const progress = new Progress('storing the mix (collector, mappers, recorder, ingest)', target);
  const { items } = profileMix(target);
  const store = new PostgresEventStore({ pool });
  const topics = ingestTopics('tl-bench-rebuild');
  let done = 0;
  try {
    while (items.length > 0) {
      const chunk = items.splice(0, PREPARE_CHUNK);
      const outbound = await profileEnvelopes(topics, chunk);
      for (const batch of await ingestBatches(outbound, 6, 500)) {
        done += (await store.ingest(batch)).stored;
        progress.update(done);
      }
    }
  } finally {
    await store.close();
  }
  progress.finish();
  // Fresh statistics, as a database that has served for a while has.
  await pool.query('VACUUM ANALYZE event_store.events');
  return done;
}

/** A rebuild from position zero through ProjectionRebuilder, with progress while it runs. */
async function rebuild(label, projection, pool, total, postgresPids) {
  const pino = benchRequire('pino');
  const { PostgresEventStore } = benchRequire('@touchline/event-store-postgres');
  const { ProjectionRebuilder } = serverDist('operations/projection-rebuilder.js');
  const { ProjectionStatusReader } = serverDist('operations/projection-status.js');
  if (projection.prepare) await projection.prepare(pool);
  const store = new PostgresEventStore({ pool });
  const rebuilder = new ProjectionRebuilder(
    pool,
    store,
    new ProjectionStatusReader(pool),
    () => undefined,
    pino({ level: 'silent' }),
    { heartbeatMs: 500 },
  );
  const progress = new Progress(`${label} rebuild`, total);
  const meter = new CpuMeter({ bench: () => [process.pid], postgres: postgresPids });
  await meter.start();
  const t0 = now();
  const started = await rebuilder.start(projection, { actorKeyId: null });
  let latest = started;
  // When each phase (replaying, completing deferred work, building indexes) was first seen.
  const phases = [{ phase: started.phase ?? 'starting', at: t0 }];
  while (latest.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 500));
    latest = await rebuilder.latest(projection.name);
    const phase = latest.phase ?? 'starting';
    if (phase !== phases.at(-1).phase) phases.push({ phase, at: now() });
    progress.update(latest.eventsApplied, phase === 'replaying' ? undefined : phase);
  }
  const ms = now() - t0;
  const phaseSeconds = phases.map(({ phase, at }, i) => ({
    phase,
    seconds: round(((phases[i + 1]?.at ?? t0 + ms) - at) / 1000, 1),
  }));
  const cpu = await meter.stop();
  progress.finish();
  await store.close();
  if (latest.status !== 'completed')
    throw new Error(`${label}: the rebuild ended ${latest.status}: ${latest.errorMessage ?? ''}`);
  const perSecond = (latest.eventsApplied * 1000) / ms;
  log(
    `  ${fmtInt(Math.round(perSecond))} events/s: ${fmtInt(latest.eventsApplied)} events in ${round(ms / 1000, 1)} s; ${describeCpu(cpu)}`,
  );
  log(`  ${phaseBar(phaseSeconds)}`);
  return {
    events: latest.eventsApplied,
    seconds: round(ms / 1000, 2),
    perSecond: round(perSecond),
    batchSize: projection.batchSize ?? 2_000,
    phases: phaseSeconds,
    cpu,
    ceiling: cpuCeiling(cpu, latest.eventsApplied, os.availableParallelism()),
  };
}

/**
 * Where a rebuild's time went, as a bar 60 characters wide, one letter per phase, and the
 * seconds of each: `RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRCCCCIIIII  R replaying 62.1 s ...`
 */
function phaseBar(phases) {
  const total = phases.reduce((sum, p) => sum + p.seconds, 0) || 1;
  const letter = (phase) => (phase === 'starting' ? 's' : phase[0].toUpperCase());
  const bar = phases
    .map((p) => letter(p.phase).repeat(Math.round((60 * p.seconds) / total)))
    .join('');
  const legend = phases.map((p) => `${letter(p.phase)} ${p.phase} ${p.seconds} s`).join(', ');
  return `${bar}  ${legend}`;
}
