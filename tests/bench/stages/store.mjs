// Stages 3 to 5, all on PostgreSQL:
//   3. baseline B: multi-row INSERT ... SELECT FROM unnest(...) of the same rows into a plain
//      table (same columns, a bigserial primary key and nothing else), same batches, same
//      concurrency as the recorder;
//   4. PostgresEventStore.ingest of the batches the real Recorder forms (several streams per
//      batch), and the recorder process draining what the collector stage left in Kafka;
//   5. the activity projector catching up over everything stored, beside a read-only pass
//      over the same global log (readAll pages, nothing applied).
import { CpuMeter, describeCpu } from '../lib/cpu.mjs';
import { latencySummary, log, now, Progress, round } from '../lib/report.mjs';
import { backendPids } from '../lib/services.mjs';
import { storedUserStreams } from '../lib/pseudonym.mjs';
import { startServer } from '../lib/server.mjs';
import { benchRequire, envelopes, ingestBatches, messages, serverDist } from '../lib/workload.mjs';

const plainTableSql = `
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.plain_events (
  global_position bigserial   PRIMARY KEY,
  transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  stream_id       text        NOT NULL,
  stream_version  bigint      NOT NULL,
  event_id        text        NOT NULL,
  event_type      text        NOT NULL,
  schema_version  integer     NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}',
  recorded_at     timestamptz NOT NULL DEFAULT now()
)`;

const plainInsertSql = `
INSERT INTO bench.plain_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
SELECT stream_id, stream_version, event_id, event_type, schema_version, data::jsonb, metadata::jsonb
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
  AS r(stream_id, stream_version, event_id, event_type, schema_version, data, metadata)`;

/** Column arrays of one ingest call, serialised the way PostgresEventStore does. */
function columns(streamBatches) {
  const c = {
    streamIds: [],
    versions: [],
    eventIds: [],
    types: [],
    schemaVersions: [],
    data: [],
    metadata: [],
  };
  for (const batch of streamBatches) {
    batch.events.forEach((event, i) => {
      c.streamIds.push(batch.streamId);
      c.versions.push(i);
      c.eventIds.push(event.eventId);
      c.types.push(event.type);
      c.schemaVersions.push(event.schemaVersion);
      c.data.push(JSON.stringify(event.data));
      c.metadata.push(JSON.stringify(event.metadata ?? {}));
    });
  }
  return c;
}

const eventsIn = (streamBatches) => streamBatches.reduce((n, b) => n + b.events.length, 0);

/** Runs `work(item)` over items with `concurrency` at once; returns per-call latencies. */
async function drive(items, concurrency, work, progress) {
  let next = 0;
  let done = 0;
  const latencies = [];
  const t0 = now();
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      const t = now();
      // Not `done += await ...`: that reads `done` before the await and loses concurrent updates.
      const n = await work(items[index]);
      done += n;
      latencies.push(now() - t);
      progress?.update(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { done, ms: now() - t0, latencies };
}

export async function storeStages(ctx, results) {
  const pg = benchRequire('pg');
  const { PostgresEventStore } = benchRequire('@touchline/event-store-postgres');
  const { ingestTopics } = benchRequire('@touchline/messaging');
  const { shape, sizes } = ctx;
  const pool = new pg.Pool({
    connectionString: ctx.db1.url,
    max: 10,
    application_name: 'touchline-bench',
  });
  const monitor = new pg.Client({ connectionString: ctx.db1.url });
  await monitor.connect();
  const postgresPids = () => backendPids(monitor, [ctx.db1.name]);
  try {
    // The same workload for both: batches as the Recorder forms them from Kafka fetches.
    log('  preparing events: Segment messages → collector envelopes → recorder ingest batches...');
    const total = sizes.storeWarmup + sizes.storeEvents;
    const outbound = await envelopes(
      ingestTopics(ctx.prefix),
      messages(`${ctx.runId}-s`, 0, total, shape.customers),
    );
    const batches = await ingestBatches(outbound, shape.partitions, shape.ingestPerBatch);
    outbound.length = 0;
    let warmCount = 0;
    let split = 0;
    while (split < batches.length && warmCount < sizes.storeWarmup)
      warmCount += eventsIn(batches[split++]);
    const warm = batches.slice(0, split);
    const measured = batches.slice(split);
    const measuredEvents = measured.reduce((n, b) => n + eventsIn(b), 0);
    const streamsPerBatch = measured.reduce((n, b) => n + b.length, 0) / measured.length;
    const shapeNote = {
      batches: measured.length,
      eventsPerBatch: round(measuredEvents / measured.length, 1),
      streamsPerBatch: round(streamsPerBatch, 1),
      concurrency: shape.ingestConcurrency,
    };

    // 3. Baseline B.
    await pool.query(plainTableSql);
    const plainColumns = measured.map(columns);
    const insertPlain = async (c) => {
      await pool.query(plainInsertSql, [
        c.streamIds,
        c.versions,
        c.eventIds,
        c.types,
        c.schemaVersions,
        c.data,
        c.metadata,
      ]);
      return c.eventIds.length;
    };
    await drive(warm.map(columns), shape.ingestConcurrency, insertPlain);
    const meterB = new CpuMeter({ bench: () => [process.pid], postgres: postgresPids });
    const progressB = new Progress('baseline B: multi-row INSERT', measuredEvents, 'rows');
    await meterB.start();
    const plain = await drive(plainColumns, shape.ingestConcurrency, insertPlain, progressB);
    const cpuB = await meterB.stop();
    progressB.finish();
    log(`  ${describeCpu(cpuB)}`);
    results.baselineB = {
      rows: plain.done,
      seconds: round(plain.ms / 1000, 2),
      perSecond: round((plain.done * 1000) / plain.ms),
      statementLatencyMs: latencySummary(plain.latencies),
      ...shapeNote,
      cpu: cpuB,
    };

    // 4. Event store ingest (JSON serialisation included, as in the store).
    const store = new PostgresEventStore({ pool });
    const ingest = async (streamBatches) => (await store.ingest(streamBatches)).stored;
    await drive(warm, shape.ingestConcurrency, ingest);
    const meter4 = new CpuMeter({ bench: () => [process.pid], postgres: postgresPids });
    const progress4 = new Progress('recorder append (ingest)', measuredEvents);
    await meter4.start();
    const appended = await drive(measured, shape.ingestConcurrency, ingest, progress4);
    const cpu4 = await meter4.stop();
    progress4.finish();
    log(`  ${describeCpu(cpu4)}`);
    results.ingest = {
      events: appended.done,
      seconds: round(appended.ms / 1000, 2),
      perSecond: round((appended.done * 1000) / appended.ms),
      callLatencyMs: latencySummary(appended.latencies),
      ...shapeNote,
      cpu: cpu4,
    };
    batches.length = 0;

    // 4b. The recorder process, from Kafka to the store, over what the collector stage sent.
    if (ctx.collectorRun) {
      results.recorderProcess = await recorderProcess(ctx, monitor, postgresPids);
    }

    // 5. Projector catch-up over everything stored, and the read-only baseline C.
    const stored = Number(
      (await monitor.query('SELECT count(*) AS n FROM event_store.events')).rows[0].n,
    );
    results.readAll = await readAllBaseline(store, stored, postgresPids);
    results.projector = await projectorCatchUp(ctx, pool, store, stored, postgresPids);
    await store.close();
  } finally {
    await monitor.end();
    await pool.end();
  }
}

async function recorderProcess(ctx, monitor, postgresPids) {
  const { runId, events } = ctx.collectorRun;
  // Stored under pseudonyms (crypto-shredding): known once the server has its master key.
  let streams = null;
  const count = async () =>
    Number(
      (
        await monitor.query(
          'SELECT count(*) AS n FROM event_store.events WHERE stream_id = ANY($1::text[])',
          [(streams ??= storedUserStreams(ctx.dataDir(ctx.db1), runId, ctx.shape.customers))],
        )
      ).rows[0].n,
    );
  const progress = new Progress('recorder process (Kafka → store)', events);
  progress.update(0, 'starting the recorder process');
  const meter = new CpuMeter({
    recorder: () => [recorder.pid],
    kafka: () => (ctx.kafkaPid ? [ctx.kafkaPid] : []),
    postgres: postgresPids,
  });
  const recorder = await startServer(
    'recorder',
    ctx.serverEnv(ctx.db1, ctx.collectorPrefix),
    ctx.serverOptions,
  );
  progress.update(0, '');
  await meter.start();
  let n = 0;
  let lastChange = now();
  while (n < events) {
    await new Promise((r) => setTimeout(r, 100));
    const m = await count();
    if (m !== n) lastChange = now();
    n = m;
    progress.update(n);
    if (now() - lastChange > 30_000) {
      const logs = recorder.tail.filter((line) => !line.includes('"level":30')).slice(-10);
      throw new Error(
        `the recorder stopped at ${n} of ${events} events; its last warnings:\n${logs.join('\n')}`,
      );
    }
  }
  const end = Date.now();
  const cpu = await meter.stop();
  progress.finish();
  log(`  ${describeCpu(cpu)}`);
  // From the first event the recorder stored to the poll that saw the last one (100 ms resolution).
  const first = (
    await monitor.query(
      'SELECT min(recorded_at) AS t FROM event_store.events WHERE stream_id = ANY($1::text[])',
      [streams],
    )
  ).rows[0].t;
  const ms = end - first.getTime();
  await recorder.stop();
  return { events: n, seconds: round(ms / 1000, 2), perSecond: round((n * 1000) / ms), cpu };
}

async function readAllBaseline(store, stored, postgresPids) {
  const meter = new CpuMeter({ bench: () => [process.pid], postgres: postgresPids });
  const progress = new Progress('baseline C: readAll pages', stored);
  await meter.start();
  const t0 = now();
  let after;
  let n = 0;
  for (;;) {
    const page = await store.readAll({ after, maxCount: 1000 });
    if (page.events.length === 0) break;
    n += page.events.length;
    after = page.checkpoint;
    progress.update(n);
  }
  const ms = now() - t0;
  const cpu = await meter.stop();
  progress.finish();
  log(`  ${describeCpu(cpu)}`);
  return {
    events: n,
    seconds: round(ms / 1000, 2),
    perSecond: round((n * 1000) / ms),
    pageSize: 1000,
    cpu,
  };
}

async function projectorCatchUp(ctx, pool, store, stored, postgresPids) {
  const pino = benchRequire('pino');
  const { Projector } = serverDist('projector/projector.js');
  const { activityProjection } = serverDist('projector/activity.projection.js');
  const head = await store.head();
  const projector = new Projector(
    pool,
    store,
    activityProjection,
    pino({ level: 'silent' }),
    1_000,
  );
  const meter = new CpuMeter({ bench: () => [process.pid], postgres: postgresPids });
  const progress = new Progress('projector apply (activity)', stored);
  const done = (p) =>
    p.transactionId > head.transactionId ||
    (p.transactionId === head.transactionId && p.position >= head.position);
  const projectedEvents = async () =>
    Number(
      (
        await pool.query(
          'SELECT coalesce(sum(total_events), 0) AS n FROM read_models.customer_activity',
        )
      ).rows[0].n,
    );
  await meter.start();
  const t0 = now();
  projector.start();
  let last = 0;
  while (!done(projector.position)) {
    await new Promise((r) => setTimeout(r, 20));
    if (now() - last > 500) {
      last = now();
      progress.update(await projectedEvents());
    }
  }
  const ms = now() - t0;
  const cpu = await meter.stop();
  progress.update(await projectedEvents());
  progress.finish();
  await projector.stop();
  log(`  ${describeCpu(cpu)}`);
  const projected = await projectedEvents();
  return {
    events: projected,
    seconds: round(ms / 1000, 2),
    perSecond: round((projected * 1000) / ms),
    batchSize: 1000,
    cpu,
  };
}
