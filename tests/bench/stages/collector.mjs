// Stage 2: the collector process (TOUCHLINE_ROLES=collector, full mode) under POST /v1/batch
// load from a separate load-generator process: events accepted with 200 per second, and the
// request latency, which includes the Kafka acknowledgement.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CpuMeter, describeCpu } from '../lib/cpu.mjs';
import { loadGenerator } from '../lib/load.mjs';
import { latencySummary, log, Progress, round } from '../lib/report.mjs';
import { startServer } from '../lib/server.mjs';

export async function credentials(dataDir) {
  return JSON.parse(await readFile(path.join(dataDir, 'credentials.json'), 'utf8'));
}

export async function collectorStage(ctx) {
  const { shape, sizes } = ctx;
  const collector = await startServer(
    'collector',
    { ...ctx.serverEnv(ctx.db1, ctx.collectorPrefix) },
    ctx.serverOptions,
  );
  const { writeKey } = await credentials(ctx.dataDir(ctx.db1));
  const runId = `${ctx.runId}-c`;
  const progress = new Progress('collector → Kafka', sizes.collectorEvents);
  progress.update(0, 'load generator building request bodies');
  const meter = new CpuMeter({
    collector: () => [collector.pid],
    loadgen: () => [load.pid],
    kafka: () => (ctx.kafkaPid ? [ctx.kafkaPid] : []),
  });
  const load = loadGenerator(
    {
      url: collector.url,
      writeKey,
      runId,
      customers: shape.customers,
      batchSize: shape.batchSize,
      concurrency: shape.httpConcurrency,
      warmupEvents: sizes.collectorWarmup,
      totalEvents: sizes.collectorEvents,
    },
    {
      onMeasuring: () => {
        progress.update(0, '');
        void meter.start();
      },
      onProgress: (sent) => progress.update(sent),
    },
  );
  const { requestBytes } = await load.ready;
  progress.update(0, 'warming up');
  const result = await load.go();
  const cpu = await meter.stop();
  progress.update(result.accepted);
  progress.finish();
  log(`  ${describeCpu(cpu)}`);
  if (result.errors.length > 0) log(`  non-200 answers (first ones): ${result.errors.join(' | ')}`);
  if (collector.warnings.length > 0)
    log(`  collector warnings: ${collector.warnings.slice(0, 3).join(' | ')}`);
  // The recorder stage drains what this stage put in Kafka (warm-up included).
  ctx.collectorRun = { runId, events: sizes.collectorWarmup + result.accepted };
  await collector.stop();
  return {
    events: result.accepted,
    seconds: round(result.ms / 1000, 2),
    perSecond: round((result.accepted * 1000) / result.ms),
    statuses: result.statuses,
    requests: result.requests,
    requestBytes,
    batchSize: shape.batchSize,
    concurrency: shape.httpConcurrency,
    requestLatencyMs: latencySummary(result.latencies),
    cpu,
  };
}
