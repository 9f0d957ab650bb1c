// `npm run bench`: throughput and latency of every stage of Touchline in full mode (real
// PostgreSQL, real Kafka, the built server as child processes), each beside a raw baseline
// measured in the same run. A benchmark, not a test: it prints a report and writes JSON.
//   node tests/bench/run.mjs [--quick] [--profile] [--only=kafka,collector,store,e2e,profiles,segments,models]
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeCeiling } from './lib/cpu.mjs';
import { fmtInt, fmtMs, histogram, loadavg, log, round, table } from './lib/report.mjs';
import {
  cleanupAll,
  createDatabase,
  kafka,
  onCleanup,
  postgresInfo,
  REPO_ROOT,
  serverUrl,
} from './lib/services.mjs';
import { collectorStage } from './stages/collector.mjs';
import { endToEnd } from './stages/end-to-end.mjs';
import { kafkaBaseline } from './stages/kafka.mjs';
import { storeStages } from './stages/store.mjs';
import { profileSizes, profileStages } from './stages/profiles.mjs';
import { segmentStage } from './stages/segments.mjs';
import { summarizeProfile } from './lib/profile.mjs';
import { benchRequire, serverDist } from './lib/workload.mjs';

const SIZES = {
  full: {
    kafkaWarmup: 25_000,
    kafkaMessages: 300_000,
    collectorWarmup: 25_000,
    collectorEvents: 300_000,
    storeWarmup: 15_000,
    storeEvents: 200_000,
    e2eWarmup: 20_000,
    e2eEvents: 200_000,
    probes: 300,
  },
  quick: {
    kafkaWarmup: 5_000,
    kafkaMessages: 50_000,
    collectorWarmup: 5_000,
    collectorEvents: 50_000,
    storeWarmup: 5_000,
    storeEvents: 40_000,
    e2eWarmup: 5_000,
    e2eEvents: 40_000,
    probes: 60,
  },
};

const SHAPE = {
  /** Events per POST /v1/batch, and messages per sendBatch in baseline A. */
  batchSize: 250,
  /** Concurrent HTTP connections (and concurrent sendBatch calls in baseline A). */
  httpConcurrency: 8,
  /** Partitions per topic (the server's KAFKA_TOPIC_PARTITIONS default). */
  partitions: 6,
  /** Distinct customers (streams) the events are spread over. */
  customers: 2_000,
  /** Messages per Kafka fetch batch handed to the recorder (one partition). */
  ingestPerBatch: 500,
  /** The recorder's partitionsConsumedConcurrently: ingests in flight at once. */
  ingestConcurrency: 3,
  /** Poll interval of the latency probe: the resolution of HTTP → visible. */
  pollMs: 10,
};

const TARGETS = {
  collectorPerSecond: 30_000,
  ingestShareOfBaseline: 0.5,
  endToEndPerSecond: 10_000,
  // Issue 4, "Scale": the customer_profiles projection, and a lookup among 1M profiles.
  profileEventsPerSecond: 20_000,
  profileLookupP99Ms: 20,
};

function parseArgs(argv) {
  const args = { quick: false, profile: false, only: null };
  for (const arg of argv) {
    if (arg === '--quick') args.quick = true;
    else if (arg === '--profile') args.profile = true;
    else if (arg.startsWith('--only=')) args.only = new Set(arg.slice(7).split(','));
    else if (arg === '--help' || arg === '-h') {
      log(
        'usage: npm run bench -- [--quick] [--profile] [--only=kafka,collector,store,e2e,profiles,segments,models]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  return args;
}

/** The schema the server creates at start-up, so stages that use the libraries alone find it. */
async function migrate(db) {
  const { createPool, runMigrations } = benchRequire('@touchline/platform');
  const { eventStoreMigrations } = benchRequire('@touchline/event-store-postgres');
  const { serverMigrations } = serverDist('migrations/server.migrations.js');
  const pool = createPool(db.url);
  try {
    await runMigrations(pool, { name: 'event_store', migrations: eventStoreMigrations });
    await runMigrations(pool, { name: 'server', migrations: serverMigrations });
  } finally {
    await pool.end();
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const mode = args.quick ? 'quick' : 'full';
  const sizes = SIZES[mode];
  const runId = randomBytes(3).toString('hex');
  const startedAt = new Date();
  const begun = performance.now();
  const stage = (name) => args.only === null || args.only.has(name);
  log(`Touchline benchmark (${mode}), run ${runId}, ${startedAt.toISOString()}`);
  const m = machine();
  log(
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}; load average ${loadavg().join(' ')}`,
  );

  // The profile stage needs neither Kafka nor these databases: `--only=profiles` starts neither.
  const needsKafka = ['kafka', 'collector', 'store', 'e2e'].some(stage);
  const broker = needsKafka ? await kafka() : { brokers: null, pid: null, own: false };
  const db1 = needsKafka ? await createDatabase('stages') : null;
  const db2 = needsKafka ? await createDatabase('e2e') : null;
  if (db1) await migrate(db1);
  const pgInfo = await postgresInfo(db1?.url ?? serverUrl());
  log(
    `PostgreSQL ${pgInfo.version} at ${new URL(serverUrl()).host}` +
      (db1 ? `; databases ${db1.name}, ${db2.name}` : ''),
  );
  const dataRoot = await mkdtemp(path.join(os.tmpdir(), 'tl-bench-data-'));
  onCleanup('data directory', () => rm(dataRoot, { recursive: true, force: true }));
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const profileDir = path.join(REPO_ROOT, 'bench-results', `profiles-${stamp}`);
  if (args.profile) await mkdir(profileDir, { recursive: true });

  const ctx = {
    mode,
    sizes,
    shape: SHAPE,
    runId,
    brokers: broker.brokers,
    kafkaPid: broker.pid,
    prefix: `tl-bench-${runId}`,
    collectorPrefix: `tl-bench-${runId}-c`,
    e2ePrefix: `tl-bench-${runId}-e`,
    db1,
    db2,
    serverOptions: args.profile ? { cpuProfileDir: profileDir } : {},
    dataDir: (db) => path.join(dataRoot, db.name),
    serverEnv: (db, prefix) => ({
      DATABASE_URL: db.url,
      KAFKA_BROKERS: broker.brokers,
      TOUCHLINE_TOPIC_PREFIX: prefix,
      TOUCHLINE_DATA_DIR: path.join(dataRoot, db.name),
      KAFKA_TOPIC_PARTITIONS: String(SHAPE.partitions),
      // The benchmark is one source sending far above the default per-key limit (50,000/s).
      TOUCHLINE_RATE_LIMIT_EVENTS_PER_SECOND: '100000000',
      TOUCHLINE_LOG_LEVEL: 'info',
    }),
  };

  const results = {};
  const loads = {};
  const section = async (key, title, fn) => {
    log(`\n▶ ${title}`);
    loads[key] = { before: loadavg() };
    await fn();
    loads[key].after = loadavg();
  };

  if (stage('kafka'))
    await section('kafka', '1. Baseline A: kafkajs producer alone', async () => {
      results.baselineA = await kafkaBaseline(ctx);
      results.baselineA2 = ctx.baselineA2;
    });
  if (stage('collector'))
    await section(
      'collector',
      '2. Collector → Kafka acknowledged',
      async () => (results.collector = await collectorStage(ctx)),
    );
  if (stage('store'))
    await section('store', '3-5. Baseline B, recorder append, projector apply', () =>
      storeStages(ctx, results),
    );
  if (stage('e2e'))
    await section('e2e', '6. End to end, four processes', () => endToEnd(ctx, results));
  if (stage('profiles'))
    await section('profiles', '7-8. Unified customer profile: projection, lookup', () =>
      profileStages(ctx, results),
    );

  if (stage('segments'))
    await section('segments', '10. Parallel projectors: 1 vs 2 segments and processes', () =>
      segmentStage(ctx, results),
    );

  const report = buildReport(results);
  log(
    `\n${'='.repeat(100)}\nTouchline benchmark (${mode}) — ${m.nproc} cores, ${m.cpuModel}; load average now ${loadavg().join(' ')}\n`,
  );
  log(
    table(
      ['stage', 'figure', 'latency p50 / p99', 'baseline', 'ratio', 'target', 'met?'],
      report.rows,
    ),
  );
  if (results.profileProjection?.ceiling) {
    log(
      `\nCPU ceilings (docs/benchmarks.md, "The CPU ceiling"):` +
        (results.profileBaselineD?.ceiling
          ? `\n  D  ${describeCeiling(results.profileBaselineD.ceiling)}`
          : '') +
        `\n  7  ${describeCeiling(results.profileProjection.ceiling, TARGETS.profileEventsPerSecond)}`,
    );
  }
  if (results.latency) {
    const l = results.latency;
    log(
      `\nHTTP → visible in the query API, ${l.samples} single events on an idle system (poll every ${l.pollIntervalMs} ms = resolution):` +
        `\n  p50 ${fmtMs(l.visibleMs.p50)}, p90 ${fmtMs(l.visibleMs.p90)}, p99 ${fmtMs(l.visibleMs.p99)}, max ${fmtMs(l.visibleMs.max)}` +
        ` (the 200 of POST /v1/track alone: p50 ${fmtMs(l.acknowledgedMs.p50)}, p99 ${fmtMs(l.acknowledgedMs.p99)})\n`,
    );
    log(histogram(l.visibleRaw));
  }
  if (results.profileLookup) {
    const l = results.profileLookup;
    const lat = (r) =>
      `p50 ${fmtMs(r.latencyMs.p50)}, p95 ${fmtMs(r.latencyMs.p95)}, p99 ${fmtMs(r.latencyMs.p99)}`;
    log(
      `\nProfile lookup, GET /v1/profiles/lookup, ${fmtInt(l.count)} lookups one at a time among ${fmtInt(l.profiles)} profiles:` +
        `\n  ${lat(l)}, max ${fmtMs(l.latencyMs.max)}; baselines in the same run: SELECT 1 ${lat(results.baselineE1)};` +
        `\n  GET /health/live ${lat(results.baselineE2)}; the lookup's two statements over pg ${lat(results.baselineE3)}\n`,
    );
    log(histogram(l.raw));
  }
  log(
    `\nLoad average during each stage (1-min, before → after): ${Object.entries(loads)
      .map(([k, v]) => `${k} ${v.before[0]} → ${v.after[0]}`)
      .join('; ')}`,
  );

  const file = path.join(REPO_ROOT, 'bench-results', `${stamp}.json`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        durationSeconds: round((performance.now() - begun) / 1000, 1),
        mode,
        runId,
        machine: m,
        loadAverage: { atEnd: loadavg(), perStage: loads },
        postgres: pgInfo,
        kafka: { brokers: broker.brokers, startedByBench: broker.own },
        sizes: stage('profiles') ? { ...sizes, profiles: profileSizes(mode) } : sizes,
        shape: SHAPE,
        targets: TARGETS,
        summary: report.summary,
        results,
      },
      null,
      2,
    )}\n`,
  );
  log(
    `\nResults written to ${path.relative(process.cwd(), file)} (${round((performance.now() - begun) / 1000, 0)} s in all).`,
  );
  if (args.profile) {
    // The servers write their profiles when they exit: stop them first.
    await cleanupAll();
    log(`\nCPU profiles of the server processes (${path.relative(process.cwd(), profileDir)}):`);
    for (const name of (await readdir(profileDir))
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort()) {
      log(`\n${name}\n${(await summarizeProfile(path.join(profileDir, name))).text}`);
    }
  }
}

function buildReport(r) {
  const rows = [];
  const summary = {};
  const lat = (l) => (l ? `${fmtMs(l.p50)} / ${fmtMs(l.p99)}` : '-');
  const ratio = (a, b) => (a && b ? `${((100 * a) / b).toFixed(0)}%` : '-');
  const met = (ok) => (ok === null ? '-' : ok ? 'yes' : 'NO');
  if (r.baselineA) {
    rows.push([
      `A  kafkajs producer alone, ${r.baselineA.batchSize} × ${r.baselineA.concurrency} (baseline)`,
      `${fmtInt(r.baselineA.perSecond)} msg/s`,
      lat(r.baselineA.sendBatchLatencyMs),
      '-',
      '-',
      '-',
      '-',
    ]);
  }
  if (r.baselineA2) {
    rows.push([
      `A2 kafkajs, coalesced ${r.baselineA2.batchSize} × 1 (info)`,
      `${fmtInt(r.baselineA2.perSecond)} msg/s`,
      lat(r.baselineA2.sendBatchLatencyMs),
      '-',
      '-',
      '-',
      '-',
    ]);
  }
  if (r.collector) {
    const ok = r.collector.perSecond >= TARGETS.collectorPerSecond;
    summary.collector = {
      perSecond: r.collector.perSecond,
      target: TARGETS.collectorPerSecond,
      met: ok,
    };
    rows.push([
      '2  collector → Kafka acknowledged',
      `${fmtInt(r.collector.perSecond)} ev/s`,
      lat(r.collector.requestLatencyMs),
      r.baselineA ? `A ${fmtInt(r.baselineA.perSecond)}` : '-',
      ratio(r.collector.perSecond, r.baselineA?.perSecond),
      `≥ ${fmtInt(TARGETS.collectorPerSecond)} ev/s`,
      met(ok),
    ]);
  }
  if (r.baselineB) {
    rows.push([
      'B  multi-row INSERT, plain table (baseline)',
      `${fmtInt(r.baselineB.perSecond)} rows/s`,
      lat(r.baselineB.statementLatencyMs),
      '-',
      '-',
      '-',
      '-',
    ]);
  }
  if (r.ingest) {
    const share = r.baselineB ? r.ingest.perSecond / r.baselineB.perSecond : null;
    const ok = share === null ? null : share >= TARGETS.ingestShareOfBaseline;
    summary.ingest = {
      perSecond: r.ingest.perSecond,
      shareOfBaseline: round(share, 3),
      target: TARGETS.ingestShareOfBaseline,
      met: ok,
    };
    rows.push([
      '4  recorder append (EventStore.ingest)',
      `${fmtInt(r.ingest.perSecond)} ev/s`,
      lat(r.ingest.callLatencyMs),
      r.baselineB ? `B ${fmtInt(r.baselineB.perSecond)}` : '-',
      ratio(r.ingest.perSecond, r.baselineB?.perSecond),
      '≥ 50% of B',
      met(ok),
    ]);
  }
  if (r.recorderProcess) {
    rows.push([
      '4b recorder process, Kafka → store',
      `${fmtInt(r.recorderProcess.perSecond)} ev/s`,
      '-',
      r.baselineB ? `B ${fmtInt(r.baselineB.perSecond)}` : '-',
      ratio(r.recorderProcess.perSecond, r.baselineB?.perSecond),
      '-',
      '-',
    ]);
  }
  if (r.readAll) {
    rows.push([
      'C  readAll pages, nothing applied (baseline)',
      `${fmtInt(r.readAll.perSecond)} ev/s`,
      '-',
      '-',
      '-',
      '-',
      '-',
    ]);
  }
  if (r.projector) {
    rows.push([
      '5  projector apply (activity, catch-up)',
      `${fmtInt(r.projector.perSecond)} ev/s`,
      '-',
      r.readAll ? `C ${fmtInt(r.readAll.perSecond)}` : '-',
      ratio(r.projector.perSecond, r.readAll?.perSecond),
      '-',
      '-',
    ]);
  }
  if (r.endToEnd) {
    const ok = r.endToEnd.perSecond >= TARGETS.endToEndPerSecond;
    const bound = Math.min(r.baselineA?.perSecond ?? Infinity, r.baselineB?.perSecond ?? Infinity);
    summary.endToEnd = {
      perSecond: r.endToEnd.perSecond,
      target: TARGETS.endToEndPerSecond,
      met: ok,
    };
    rows.push([
      '6  end to end, HTTP → read model (sustained)',
      `${fmtInt(r.endToEnd.perSecond)} ev/s`,
      lat(r.endToEnd.requestLatencyMs),
      Number.isFinite(bound) ? `min(A,B) ${fmtInt(bound)}` : '-',
      Number.isFinite(bound) ? ratio(r.endToEnd.perSecond, bound) : '-',
      `≥ ${fmtInt(TARGETS.endToEndPerSecond)} ev/s`,
      met(ok),
    ]);
  }
  if (r.profileBaselineD) {
    rows.push([
      'D  one-row projection, same projector (baseline)',
      `${fmtInt(r.profileBaselineD.perSecond)} ev/s`,
      lat(r.profileBaselineD.applyLatencyMs),
      '-',
      '-',
      '-',
      '-',
    ]);
  }
  if (r.profileProjection) {
    const ok = r.profileProjection.perSecond >= TARGETS.profileEventsPerSecond;
    summary.profileProjection = {
      perSecond: r.profileProjection.perSecond,
      applyOnlyPerSecond: r.profileProjection.applyOnlyPerSecond,
      shareOfBaseline: r.profileBaselineD
        ? round(r.profileProjection.perSecond / r.profileBaselineD.perSecond, 3)
        : null,
      target: TARGETS.profileEventsPerSecond,
      met: ok,
    };
    rows.push([
      '7  profile projection (customer_profiles)',
      `${fmtInt(r.profileProjection.perSecond)} ev/s`,
      lat(r.profileProjection.applyLatencyMs),
      r.profileBaselineD ? `D ${fmtInt(r.profileBaselineD.perSecond)}` : '-',
      ratio(r.profileProjection.perSecond, r.profileBaselineD?.perSecond),
      `≥ ${fmtInt(TARGETS.profileEventsPerSecond)} ev/s`,
      met(ok),
    ]);
  }
  if (r.baselineE1) {
    rows.push([
      'E1 SELECT 1 over pg (baseline)',
      `${fmtInt(r.baselineE1.count)} queries`,
      lat(r.baselineE1.latencyMs),
      '-',
      '-',
      '-',
      '-',
    ]);
    rows.push([
      'E2 GET /health/live (baseline)',
      `${fmtInt(r.baselineE2.count)} requests`,
      lat(r.baselineE2.latencyMs),
      '-',
      '-',
      '-',
      '-',
    ]);
    rows.push([
      'E3 the lookup SQL over pg (baseline)',
      `${fmtInt(r.baselineE3.count)} lookups`,
      lat(r.baselineE3.latencyMs),
      '-',
      '-',
      '-',
      '-',
    ]);
  }
  if (r.profileLookup) {
    const l = r.profileLookup;
    const ok = l.latencyMs.p99 < TARGETS.profileLookupP99Ms;
    summary.profileLookup = {
      profiles: l.profiles,
      p50: l.latencyMs.p50,
      p95: l.latencyMs.p95,
      p99: l.latencyMs.p99,
      target: TARGETS.profileLookupP99Ms,
      met: ok,
    };
    const floor =
      r.baselineE2 && r.baselineE3 ? r.baselineE2.latencyMs.p50 + r.baselineE3.latencyMs.p50 : null;
    rows.push([
      `8  profile lookup, HTTP, ${fmtInt(l.profiles)} profiles`,
      `${fmtInt(l.count)} lookups`,
      lat(l.latencyMs),
      floor === null ? '-' : `E2+E3 p50 ${fmtMs(floor)}`,
      floor === null ? '-' : `${(l.latencyMs.p50 / floor).toFixed(1)}×`,
      `p99 < ${TARGETS.profileLookupP99Ms} ms`,
      met(ok),
    ]);
  }
  if (r.retiredScan) {
    summary.retiredScan = { profiles: r.retiredScan.profiles, ms: r.retiredScan.ms };
    rows.push([
      `8b per-batch "identifiers &&", ${fmtInt(r.retiredScan.profiles)} profiles`,
      `${fmtMs(r.retiredScan.ms)} / batch`,
      '-',
      '-',
      '-',
      '-',
      '-',
    ]);
  }
  if (r.latency) {
    summary.latency = {
      p50: r.latency.visibleMs.p50,
      p99: r.latency.visibleMs.p99,
      resolutionMs: r.latency.pollIntervalMs,
    };
    rows.push([
      '6b HTTP → visible in query API (idle)',
      `${r.latency.samples} events`,
      lat(r.latency.visibleMs),
      `poll ${r.latency.pollIntervalMs} ms`,
      '-',
      '-',
      '-',
    ]);
  }
  return { rows, summary };
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stdout.write(`\n${signal}: stopping the processes and services this run started...\n`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

/**
 * Issue 5's model speed: fit on the full CDNOW master file and score 1M customers, with the
 * compiled customer-value library (pure CPU, no services). Part of every run unless --only
 * leaves out "models"; --quick scores 200,000.
 */
async function modelBench() {
  const only = process.argv.find((a) => a.startsWith('--only='));
  if (only && !only.slice(7).split(',').includes('models')) return;
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const script = fileURLToPath(
    new URL('../../libs/customer-value/bench/customer-value.bench.mjs', import.meta.url),
  );
  process.stdout.write('\nModels (customer value: BG/NBD + Gamma-Gamma on CDNOW, scoring):\n');
  const quick = process.argv.includes('--quick');
  const result = spawnSync(process.execPath, [script], {
    stdio: 'inherit',
    env: { ...process.env, ...(quick ? { SCORE_CUSTOMERS: '200000' } : {}) },
  });
  if (result.status !== 0) throw new Error(`the model benchmark failed (exit ${result.status})`);
}

main()
  .then(() => cleanupAll())
  .then(() => modelBench())
  .then(
    () => process.exit(0),
    async (error) => {
      process.stderr.write(`\nbenchmark failed: ${error?.stack ?? error}\n`);
      await cleanupAll();
      process.exit(1);
    },
  );
