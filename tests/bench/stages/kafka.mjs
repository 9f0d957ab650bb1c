// Baseline A: what kafkajs alone does on this machine with the producer settings Touchline uses
// (idempotent, one request in flight, acks from all in-sync replicas), the collector's message
// sizes and keys, and batches sent the way the collector sends them (one sendBatch per request,
// `concurrency` requests at once through one producer).
import { CpuMeter, describeCpu } from '../lib/cpu.mjs';
import { latencySummary, log, now, Progress, round } from '../lib/report.mjs';
import { benchRequire, envelopes, messages } from '../lib/workload.mjs';

export async function kafkaBaseline(ctx) {
  const { Kafka, Partitioners, logLevel } = benchRequire('kafkajs');
  const { ingestTopics } = benchRequire('@touchline/messaging');
  const { shape, sizes } = ctx;
  const topic = `${ctx.prefix}-baseline.kafka.v1`;
  const kafka = new Kafka({
    clientId: 'touchline-bench',
    brokers: ctx.brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: shape.partitions }],
  });
  await admin.disconnect();

  // Real envelopes, made by the collector's code; a pool of distinct ones is cycled.
  const pool = await envelopes(
    ingestTopics(ctx.prefix),
    messages(`${ctx.runId}-a`, 0, 20_000, shape.customers),
  );
  const bytes = pool.reduce((n, m) => n + m.value.length, 0) / pool.length;
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();

  let cursor = 0;
  const nextBatch = (size) => {
    const list = new Array(size);
    for (let i = 0; i < size; i++) {
      const m = pool[cursor++ % pool.length];
      list[i] = { key: m.key, value: m.value, headers: { ...m.headers } };
    }
    return list;
  };
  const run = async (
    total,
    progress,
    batchSize = shape.batchSize,
    concurrency = shape.httpConcurrency,
  ) => {
    const latencies = [];
    let sent = 0;
    let issued = 0;
    const worker = async () => {
      while (issued < total) {
        issued += batchSize;
        const batch = nextBatch(batchSize);
        const t0 = now();
        await producer.sendBatch({
          acks: -1,
          timeout: 5000,
          topicMessages: [{ topic, messages: batch }],
        });
        latencies.push(now() - t0);
        sent += batch.length;
        progress?.update(sent);
      }
    };
    const t0 = now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { sent, ms: now() - t0, latencies };
  };

  await run(sizes.kafkaWarmup);
  const progress = new Progress('baseline A: kafkajs producer', sizes.kafkaMessages, 'msgs');
  const meter = new CpuMeter({
    bench: () => [process.pid],
    kafka: () => (ctx.kafkaPid ? [ctx.kafkaPid] : []),
  });
  await meter.start();
  const result = await run(sizes.kafkaMessages, progress);
  const cpu = await meter.stop();
  progress.finish();
  log(`  ${describeCpu(cpu)}`);

  // A2: the same messages with the concurrent requests' batches coalesced into one produce
  // request (what a transport that merged concurrent publishes would send).
  const coalesced = shape.batchSize * shape.httpConcurrency;
  const progress2 = new Progress(
    `baseline A2: kafkajs, ${coalesced}-message batches`,
    sizes.kafkaMessages,
    'msgs',
  );
  const meter2 = new CpuMeter({
    bench: () => [process.pid],
    kafka: () => (ctx.kafkaPid ? [ctx.kafkaPid] : []),
  });
  await meter2.start();
  const result2 = await run(sizes.kafkaMessages, progress2, coalesced, 1);
  const cpu2 = await meter2.stop();
  progress2.finish();
  log(`  ${describeCpu(cpu2)}`);
  await producer.disconnect();
  ctx.baselineA2 = {
    messages: result2.sent,
    seconds: round(result2.ms / 1000, 2),
    perSecond: round((result2.sent * 1000) / result2.ms),
    batchSize: coalesced,
    concurrency: 1,
    sendBatchLatencyMs: latencySummary(result2.latencies),
    cpu: cpu2,
    cpuMicrosPerMessage: round((cpu2.processes.bench.cpuSeconds * 1e6) / result2.sent, 1),
  };
  return {
    messages: result.sent,
    seconds: round(result.ms / 1000, 2),
    perSecond: round((result.sent * 1000) / result.ms),
    messageBytes: Math.round(bytes),
    batchSize: shape.batchSize,
    concurrency: shape.httpConcurrency,
    sendBatchLatencyMs: latencySummary(result.latencies),
    cpu,
    cpuMicrosPerMessage: round((cpu.processes.bench.cpuSeconds * 1e6) / result.sent, 1),
  };
}
