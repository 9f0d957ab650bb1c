#!/usr/bin/env node
// Node's CPU per event in the profile projection, with PostgreSQL out of the loop, in two parts
// (docs/benchmarks.md, "Where Node's time goes"):
//   read: the stored events through PostgresEventStore.readAll, pages of 5,000, nothing else;
//   JavaScript: the same events, held in memory, through the projection's own batch code (graph
//     steps, facts, the writes' parameters as pg serializes them), batches of 5,000 in chunks of
//     1,000 as the projection cuts them. It calls the projection's private steps on purpose:
//     only the JavaScript half is measured, and no statement is sent.
// `npm run build`, then `node tests/bench/node-cost.mjs` (TOUCHLINE_BENCH_REBUILD_EVENTS sets
// the number of events, 200,000 by default; about 3 minutes).
import { performance } from 'node:perf_hooks';
import { fmtInt, log } from './lib/report.mjs';
import { cleanupAll, createDatabase } from './lib/services.mjs';
import { benchRequire } from './lib/workload.mjs';
import { storeMix } from './stages/profile-rebuild.mjs';
import { migrate, profileProjection } from './stages/profiles.mjs';

const BATCH = 5_000;
const CHUNK = 1_000;

const total = Number((process.env.TOUCHLINE_BENCH_REBUILD_EVENTS ?? '200000').replace(/_/g, ''));
if (!Number.isSafeInteger(total) || total < 1) {
  throw new Error('TOUCHLINE_BENCH_REBUILD_EVENTS must be a whole number');
}

/** CPU microseconds per event (user + system) and wall milliseconds of `work`. */
async function measure(events, work) {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const result = await work();
  const used = process.cpuUsage(cpu);
  return { result, ms: performance.now() - t0, cpuPerEvent: (used.user + used.system) / events };
}

try {
  const pg = benchRequire('pg');
  const { prepareValue } = benchRequire('pg/lib/utils');
  const { PostgresEventStore } = benchRequire('@touchline/event-store-postgres');
  const { initialIdentityGraph, DEFAULT_IDENTITY_RULES } = benchRequire('@touchline/identity');
  const db = await createDatabase('nodecost');
  await migrate(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const stored = await storeMix(pool, total);
  const store = new PostgresEventStore({ pool });

  /** Every stored event, page by page; `keep` collects them (the reading pass drops each page). */
  const readAll = async (keep) => {
    let after;
    for (;;) {
      const page = await store.readAll({ after, maxCount: BATCH });
      if (page.events.length === 0) return;
      after = page.checkpoint;
      if (keep) for (const event of page.events) keep.push(event);
    }
  };
  // As a replay reads: each page is garbage once applied, so it is not kept here either.
  const read = await measure(stored, () => readAll(null));
  const events = [];
  await readAll(events);
  await pool.end();

  const projection = profileProjection();
  const javascript = await measure(events.length, async () => {
    let graph = initialIdentityGraph(DEFAULT_IDENTITY_RULES);
    for (let start = 0; start < events.length; start += BATCH) {
      const batch = events.slice(start, start + BATCH);
      const facts = new Map();
      const touched = new Set();
      for (let from = 0; from < batch.length; from += CHUNK) {
        const chunk = {
          observations: [],
          decisions: [],
          mapping: new Map(),
          previous: new Set(),
          anchors: new Set(),
          touchpoints: [],
        };
        graph = projection.chunkWrites(graph, batch, from, from + CHUNK, facts, chunk);
        const { previous, anchors, ...rows } = chunk;
        for (const customer of projection.touchedCustomers(
          graph,
          rows.mapping,
          previous,
          rows.decisions,
          anchors,
        ))
          touched.add(customer);
        const last = from + CHUNK >= batch.length;
        const parameters = projection.batchParameters({
          ...rows,
          facts: last ? [...facts.values()] : [],
          customers: last ? [...touched].sort() : [],
          deferProfiles: true,
          generation: last ? 1n : null,
        });
        for (const parameter of parameters) prepareValue(parameter);
      }
    }
  });

  log(`\nNode's CPU per event in the profile projection, ${fmtInt(events.length)} events:`);
  log(`  reading the stored events   ${read.cpuPerEvent.toFixed(1)} µs (${fmtInt(read.ms)} ms)`);
  log(
    `  the projection's JavaScript ${javascript.cpuPerEvent.toFixed(1)} µs (${fmtInt(javascript.ms)} ms)`,
  );
} finally {
  await cleanupAll();
}
