// Stage 7 and 8, the unified customer profile (issue 4, "Scale"), on a database of its own:
//   D. baseline: the same projector applying the same events to a one-row-per-event projection
//      (an unnest INSERT into a plain table), same 1,000-event batches, same transactions;
//   7. the customer_profiles projection (CustomerProfileProjection) catching up over a generated
//      mix of web, email and phone events made by the platform's own code, with the time of
//      every SQL statement of apply() and the JavaScript in between;
//   E. baselines: SELECT 1 over pg, GET /health/live over HTTP, and the lookup's two statements
//      over pg from the benchmark process;
//   8. GET /v1/profiles/lookup through the real query server over 1,000,000 profiles generated
//      with SQL (customer_profiles and customer_identifiers as the projection writes them),
//      one request at a time: p50 / p95 / p99.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { CpuMeter, cpuCeiling, describeCpu } from '../lib/cpu.mjs';
import { summarizeProfile } from '../lib/profile.mjs';
import { PROFILE_FX, profileEnvelopes, profileMix } from '../lib/profile-workload.mjs';
import { fmtMs, latencySummary, log, now, Progress, round } from '../lib/report.mjs';
import { backendPids, createDatabase, onCleanup } from '../lib/services.mjs';
import { startServer } from '../lib/server.mjs';
import { benchRequire, ingestBatches, serverDist } from '../lib/workload.mjs';

const BATCH_SIZE = 1_000;
const GENERATE_CHUNK = 50_000;
/** Connections generating (and building indexes) at once. */
const GENERATE_CONCURRENCY = 2;
const PROFILE_TABLES = ['read_models.customer_profiles', 'read_models.customer_identifiers'];

/**
 * The statements apply() sends, by what they write: the time of each is measured on the client
 * (round trip included); apply's time not spent waiting for one is JavaScript.
 */
const STEPS = [
  ['generation lock', /^INSERT INTO \S+identity_generation AS g/],
  ['graph load (restart)', /^SELECT event_id, occurred_at, source, identifiers FROM/],
  ['revocations load (restart)', /^SELECT \S+ FROM identity\.revocations/],
  ['already applied? (event ids)', /^SELECT event_id FROM \S+identity_observations WHERE/],
  ['observations insert', /^INSERT INTO \S+identity_observations/],
  ['identifiers delete', /^DELETE FROM \S+customer_identifiers/],
  ['identifiers upsert', /^INSERT INTO \S+customer_identifiers/],
  ['links delete', /^DELETE FROM \S+identity_links/],
  ['links upsert', /^INSERT INTO \S+identity_links/],
  ['facts upsert', /^INSERT INTO \S+identifier_facts/],
  ['touchpoints insert', /^INSERT INTO \S+customer_touchpoints/],
  [
    'retired profiles (identifiers &&)',
    /^SELECT customer_id FROM \S+customer_profiles WHERE identifiers &&/,
  ],
  ['profiles delete', /^DELETE FROM \S+customer_profiles/],
  ['profiles recompute', /^WITH members AS/],
  ['generation write', /^INSERT INTO \S+identity_generation/],
  ['batch writes (one statement)', /^SELECT read_models\.apply_customer_profile_batch/],
];

const stepOf = (sql) => {
  const text = sql.trimStart();
  for (const [name, pattern] of STEPS) if (pattern.test(text)) return name;
  return `other: ${text.slice(0, 40)}`;
};

/** Sizes: the mode's, unless the environment says otherwise (quick local runs). */
export function profileSizes(mode) {
  const quick = mode === 'quick';
  const fromEnv = (name, fallback) => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`${name} must be a whole number`);
    return value;
  };
  return {
    events: fromEnv('TOUCHLINE_BENCH_PROFILE_EVENTS', quick ? 30_000 : 100_000),
    profiles: fromEnv('TOUCHLINE_BENCH_PROFILES', quick ? 100_000 : 1_000_000),
    lookups: fromEnv('TOUCHLINE_BENCH_PROFILE_LOOKUPS', quick ? 1_000 : 5_000),
    // A projection far below the target would take minutes: it stops after the current batch
    // once this much time has passed (at 20,000 events/s, 100,000 events take 5 s).
    projectionSeconds: fromEnv('TOUCHLINE_BENCH_PROFILE_SECONDS', quick ? 30 : 60),
  };
}

export async function migrate(url) {
  const { createPool, runMigrations } = benchRequire('@touchline/platform');
  const { eventStoreMigrations } = benchRequire('@touchline/event-store-postgres');
  const { serverMigrations } = serverDist('migrations/server.migrations.js');
  const { profilesMigrationSet } = serverDist('profiles/profiles.migrations.js');
  const pool = createPool(url);
  try {
    // What Runtime.start runs, in its order.
    await runMigrations(pool, { name: 'event_store', migrations: eventStoreMigrations });
    await runMigrations(pool, { name: 'server', migrations: serverMigrations });
    await runMigrations(pool, profilesMigrationSet);
  } finally {
    await pool.end();
  }
}

export async function profileStages(ctx, results) {
  const pg = benchRequire('pg');
  const sizes = profileSizes(ctx.mode);
  const db = await createDatabase('profiles');
  await migrate(db.url);
  log(
    `  database ${db.name}; ${sizes.events.toLocaleString('en-US')} events to project, ` +
      `${sizes.profiles.toLocaleString('en-US')} profiles to look up in, ${sizes.lookups.toLocaleString('en-US')} lookups; ` +
      `stage 7 stops after ${sizes.projectionSeconds} s`,
  );
  const pool = new pg.Pool({
    connectionString: db.url,
    max: 10,
    application_name: 'touchline-bench',
  });
  const monitor = new pg.Client({ connectionString: db.url });
  await monitor.connect();
  const postgresPids = () => backendPids(monitor, [db.name]);
  try {
    const stored = await storeMix(ctx, pool, sizes.events);
    results.profileMix = stored.mix;
    results.profileBaselineD = await projectorRun(
      'baseline D: one-row projection',
      oneRowProjection(),
      pool,
      stored.events,
      postgresPids,
      { budgetSeconds: sizes.projectionSeconds },
    );
    results.profileProjection = await projectorRun(
      'profile projection (customer_profiles)',
      profileProjection(),
      pool,
      stored.events,
      postgresPids,
      { budgetSeconds: sizes.projectionSeconds, cpuProfileDir: ctx.serverOptions.cpuProfileDir },
    );
    results.profileProjection.readModel = await readModelCounts(monitor);
    ctx.retiredIdentifiersPerBatch =
      results.profileProjection.steps['retired profiles (identifiers &&)']?.itemsPerCall;
    log(
      `  read model: ${Object.entries(results.profileProjection.readModel)
        .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
        .join(', ')}`,
    );
    const lookup = await lookupStages(ctx, db, pool, sizes, postgresPids);
    Object.assign(results, lookup);
  } finally {
    await monitor.end();
    await pool.end();
  }
}

/** The generated mix, through the platform's code, into the event store (not measured). */
async function storeMix(ctx, pool, target) {
  const { PostgresEventStore } = benchRequire('@touchline/event-store-postgres');
  const { ingestTopics } = benchRequire('@touchline/messaging');
  const progress = new Progress('preparing the mix (collector, mappers, recorder, ingest)', target);
  progress.update(0, 'generating');
  const { items, counts } = profileMix(target);
  progress.update(0, 'collector and touchpoint mappers');
  const outbound = await profileEnvelopes(ingestTopics(`tl-bench-${ctx.runId}-p`), items);
  items.length = 0;
  progress.update(0, 'recorder');
  const batches = await ingestBatches(outbound, 6, 500);
  outbound.length = 0;
  const store = new PostgresEventStore({ pool });
  let done = 0;
  progress.update(0, 'ingest');
  for (const batch of batches) {
    done += (await store.ingest(batch)).stored;
    progress.update(done);
  }
  progress.finish();
  await store.close();
  const types = await pool.query(
    `SELECT event_type AS type, count(*)::int AS n FROM event_store.events GROUP BY event_type ORDER BY n DESC`,
  );
  const mix = {
    events: done,
    ...counts,
    byType: Object.fromEntries(types.rows.map((r) => [r.type, r.n])),
  };
  log(
    `  mix: ${done.toLocaleString('en-US')} events from ${counts.visitors.toLocaleString('en-US')} visitors ` +
      `(${counts.identified.toLocaleString('en-US')} identify, ${counts.secondDevices.toLocaleString('en-US')} on a second device, ` +
      `${counts.newsletterOnly.toLocaleString('en-US')} newsletter-only readers); ` +
      types.rows.map((r) => `${r.type} ${r.n.toLocaleString('en-US')}`).join(', '),
  );
  return { events: done, mix };
}

/** The cheapest projection there is: one row per event, one unnest INSERT per batch. */
export function oneRowProjection() {
  return {
    name: 'bench_one_row',
    version: 1,
    tables: ['bench.one_row'],
    prepare: (pool) =>
      pool.query(`CREATE SCHEMA IF NOT EXISTS bench;
        CREATE TABLE bench.one_row (
          id          bigserial   PRIMARY KEY,
          event_id    text        NOT NULL,
          stream_id   text        NOT NULL,
          occurred_at timestamptz NOT NULL,
          channel     text        NOT NULL,
          type        text        NOT NULL)`),
    async apply(client, events) {
      await client.query(
        `INSERT INTO bench.one_row (event_id, stream_id, occurred_at, channel, type)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])`,
        [
          events.map((e) => e.eventId),
          events.map((e) => e.streamId),
          events.map((e) => e.metadata.occurredAt),
          events.map((e) => e.metadata.channel),
          events.map((e) => e.type),
        ],
      );
    },
  };
}

/** CustomerProfileProjection as the server builds it (default identity rules, an FX table). */
export function profileProjection() {
  const { CustomerProfileProjection } = serverDist('profiles/customer-profile.projection.js');
  const { parseFxTable } = serverDist('value/domain/fx.js');
  const { compileRulesOrThrow, DEFAULT_IDENTITY_RULES } = benchRequire('@touchline/identity');
  return new CustomerProfileProjection(
    compileRulesOrThrow(DEFAULT_IDENTITY_RULES),
    parseFxTable(PROFILE_FX.base, PROFILE_FX.rates),
  );
}

/**
 * The projection with a stopwatch: apply()'s time, and each statement's, through a client
 * that times query() (the promise: the round trip and PostgreSQL's work).
 */
function instrument(projection, stats, progress) {
  const timedClient = (client) =>
    new Proxy(client, {
      get(target, prop) {
        if (prop === 'query') {
          return async (sql, values) => {
            const t = now();
            try {
              return await target.query(sql, values);
            } finally {
              const ms = now() - t;
              const step = stepOf(sql);
              const s = (stats.steps[step] ??= { calls: 0, ms: 0, firstParameterItems: 0 });
              s.calls += 1;
              s.ms += ms;
              if (Array.isArray(values?.[0])) s.firstParameterItems += values[0].length;
              stats.queryMs += ms;
            }
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  // A queued apply (applyCatchingUpQueued) resolves once its batch is computed and its writes
  // queued: its time is the JavaScript's and the waits before the hand-over.
  const timed = (how) => async (client, events, previous) => {
    const t = now();
    const handedOver = await projection[how](timedClient(client), events, previous);
    const ms = now() - t;
    stats.applyMs += ms;
    stats.applyLatencies.push(ms);
    stats.batches += 1;
    if (how !== 'apply') stats.deferredBatches += 1;
    stats.events += events.length;
    stats.timeline.push({ at: now(), events: stats.events });
    progress.update(stats.events);
    return handedOver;
  };
  return {
    name: projection.name,
    version: projection.version,
    tables: projection.tables,
    batchSize: projection.batchSize,
    apply: timed('apply'),
    // The projector defers profile recomputes while far behind the head, as the server's does.
    ...(projection.applyCatchingUp ? { applyCatchingUp: timed('applyCatchingUp') } : {}),
    // ... overlapping those batches as the server's does, where the projection can.
    ...(projection.applyCatchingUpQueued
      ? { applyCatchingUpQueued: timed('applyCatchingUpQueued') }
      : {}),
  };
}

/** A Projector from apps/server/dist, from no checkpoint to the store's head. */
async function projectorRun(label, projection, pool, total, postgresPids, options) {
  const { budgetSeconds, cpuProfileDir } = options;
  const pino = benchRequire('pino');
  const { PostgresEventStore } = benchRequire('@touchline/event-store-postgres');
  const { Projector } = serverDist('projector/projector.js');
  if (projection.prepare) await projection.prepare(pool);
  const store = new PostgresEventStore({ pool });
  const head = await store.head();
  const stats = {
    events: 0,
    batches: 0,
    deferredBatches: 0,
    applyMs: 0,
    queryMs: 0,
    steps: {},
    applyLatencies: [],
    timeline: [],
  };
  const progress = new Progress(label, total);
  const projector = new Projector(
    pool,
    store,
    instrument(projection, stats, progress),
    pino({ level: 'silent' }),
    // The projection's own batch size when it names one (the profile projection does), as the
    // server's projector uses it; else the projector's default of 1,000.
    { batchSize: projection.batchSize ?? BATCH_SIZE },
  );
  const meter = new CpuMeter({ bench: () => [process.pid], postgres: postgresPids });
  const session = cpuProfileDir ? new Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  await meter.start();
  const t0 = now();
  projector.start();
  const reached = (p) =>
    p.transactionId > head.transactionId ||
    (p.transactionId === head.transactionId && p.position >= head.position);
  let stoppedByBudget = false;
  while (!reached(projector.position)) {
    await new Promise((r) => setTimeout(r, 5));
    if (projector.status.state === 'failing')
      throw new Error(`${label}: the projector failed (${projector.status.lastErrorCode})`);
    if (now() - t0 > budgetSeconds * 1000) {
      stoppedByBudget = true;
      progress.update(stats.events, `time budget of ${budgetSeconds} s reached: stopping`);
      // Waits for the batch in flight; the figure covers the batches applied.
      await projector.stop();
      break;
    }
  }
  // Caught up: until the checkpoint reached the head. Stopped: until the last batch applied.
  const ms = (stoppedByBudget ? (stats.timeline.at(-1)?.at ?? now()) : now()) - t0;
  const cpu = await meter.stop();
  progress.finish();
  let profile = null;
  if (session) {
    const { profile: data } = await session.post('Profiler.stop');
    session.disconnect();
    const file = path.join(cpuProfileDir, `bench-${projection.name}.cpuprofile`);
    await writeFile(file, JSON.stringify(data));
    profile = await summarizeProfile(file, 20);
    log(`  CPU profile of the benchmark process (${path.basename(file)}):\n${profile.text}`);
  }
  if (!stoppedByBudget) await projector.stop();
  await store.close();
  log(`  ${describeCpu(cpu)}`);
  if (stoppedByBudget)
    log(
      `  stopped by the time budget after ${stats.events.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} events`,
    );
  const perSecond = (stats.events * 1000) / ms;
  // Throughput per quarter of the run: does it fall as the read model grows?
  const quarters = [];
  let previous = { at: t0, events: 0 };
  for (let q = 1; q <= 4; q++) {
    const mark = stats.timeline.find((p) => p.events >= (stats.events * q) / 4);
    if (!mark) break;
    quarters.push(round(((mark.events - previous.events) * 1000) / (mark.at - previous.at)));
    previous = mark;
  }
  const steps = Object.fromEntries(
    Object.entries(stats.steps)
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([name, s]) => [
        name,
        {
          calls: s.calls,
          ms: round(s.ms),
          share: round(s.ms / stats.applyMs, 3),
          usPerEvent: round((1000 * s.ms) / stats.events, 1),
          // The first parameter's array length per call: identifiers, rows or customers.
          itemsPerCall: round(s.firstParameterItems / s.calls, 1),
        },
      ]),
  );
  const javascriptMs = stats.applyMs - stats.queryMs;
  const outsideMs = ms - stats.applyMs;
  const result = {
    events: stats.events,
    storedEvents: total,
    stoppedByBudget,
    batches: stats.batches,
    deferredBatches: stats.deferredBatches,
    batchSize: projection.batchSize ?? BATCH_SIZE,
    seconds: round(ms / 1000, 2),
    perSecond: round(perSecond),
    applyOnlyPerSecond: round((stats.events * 1000) / stats.applyMs),
    perQuarter: quarters,
    applyLatencyMs: latencySummary(stats.applyLatencies),
    split: {
      applyShare: round(stats.applyMs / ms, 3),
      usPerEvent: {
        total: round((1000 * ms) / stats.events, 1),
        apply: round((1000 * stats.applyMs) / stats.events, 1),
        applyStatements: round((1000 * stats.queryMs) / stats.events, 1),
        applyJavaScript: round((1000 * javascriptMs) / stats.events, 1),
        readPageAndTransaction: round((1000 * outsideMs) / stats.events, 1),
      },
    },
    steps,
    cpu,
    ceiling: cpuCeiling(cpu, stats.events, os.availableParallelism()),
    ...(profile ? { cpuProfile: profile.text } : {}),
  };
  log(
    `  ${Math.round(perSecond).toLocaleString('en-US')} events/s over ${stats.batches} batches ` +
      (stats.deferredBatches
        ? `(${stats.deferredBatches} of them far behind the head, profile recomputes deferred) `
        : '') +
      `(by quarter: ${quarters.map((q) => q.toLocaleString('en-US')).join(' → ')}); apply() alone ` +
      `${result.applyOnlyPerSecond.toLocaleString('en-US')} events/s, ${(100 * result.split.applyShare).toFixed(0)}% of the time`,
  );
  if (Object.keys(steps).length > 1) {
    log(`  µs per event: ${JSON.stringify(result.split.usPerEvent)}`);
    log('  apply() by statement (client-side time, round trip included):');
    for (const [name, s] of Object.entries(steps))
      log(
        `    ${name.padEnd(40)} ${String(s.usPerEvent).padStart(7)} µs/event  ${(100 * s.share).toFixed(1).padStart(5)}%  (${s.calls} calls)`,
      );
    log(
      // The profile projection sends a batch in chunks while it computes the next one, so its
      // statements overlap its JavaScript: this is the JavaScript no statement overlapped.
      `    ${'JavaScript in apply(), not overlapped'.padEnd(40)} ${String(result.split.usPerEvent.applyJavaScript).padStart(7)} µs/event  ${((100 * javascriptMs) / stats.applyMs).toFixed(1).padStart(5)}%`,
    );
  }
  return result;
}

async function readModelCounts(client) {
  const { rows } = await client.query(`SELECT
      (SELECT count(*) FROM read_models.customer_profiles)::int AS profiles,
      (SELECT count(*) FROM read_models.customer_identifiers)::int AS identifiers,
      (SELECT count(*) FROM read_models.identity_links WHERE status = 'accepted')::int AS "accepted links",
      (SELECT count(*) FROM read_models.identity_links WHERE status = 'refused')::int AS "refused links",
      (SELECT count(*) FROM read_models.customer_touchpoints)::int AS touchpoints,
      (SELECT count(*) FROM read_models.customer_profiles WHERE orders > 0)::int AS "profiles with orders"`);
  return rows[0];
}

// ---------------------------------------------------------------------------------------------
// Lookups over N generated profiles.

/**
 * Profile i (1..N), as the projection would have written it: 40% anonymous visitors (one
 * anonymous id), 60% identified (user id, email, anonymous id; every fifth of those a second
 * device, every second a phone number, every sixth has withdrawn email-marketing consent).
 * The customer id is the platform's own (customerIdFor of the earliest identifier, the first
 * page view's anonymous id): the same SHA-256 in SQL, checked against @touchline/identity for
 * the sampled rows.
 */
const GENERATE_SQL = `
WITH g AS (
  SELECT i,
         'anonymousId:' || md5('anon-1-' || i)::uuid AS a1,
         CASE WHEN i % 10 >= 4 AND i % 5 = 0 THEN 'anonymousId:' || md5('anon-2-' || i)::uuid END AS a2,
         CASE WHEN i % 10 >= 4 THEN 'email:customer' || i || '@example.com' END AS email,
         CASE WHEN i % 10 >= 4 AND i % 2 = 0 THEN 'phone:+4479' || (10000000 + i) END AS phone,
         CASE WHEN i % 10 >= 4 THEN 'userId:cust-' || (1000000 + i) END AS user_id,
         ((i::bigint * 2654435761) % 4294967296) / 4294967296.0 AS r
    FROM generate_series($1::int, $2::int) AS i
), h AS (
  SELECT g.*, encode(sha256('touchline-customer'::bytea || '\\x00'::bytea || convert_to(a1, 'UTF8')), 'hex') AS hex
    FROM g
), p AS (
  SELECT h.*,
         substr(hex, 1, 8) || '-' || substr(hex, 9, 4) || '-5' || substr(hex, 14, 3) || '-' ||
           to_hex((('x' || substr(hex, 17, 2))::bit(8)::int & 63) | 128) || substr(hex, 19, 2) || '-' ||
           substr(hex, 21, 12) AS customer_id,
         timestamptz '2024-01-01 00:00:00+00' + r * interval '600 days' AS first_seen,
         1 + i % 37 AS web,
         CASE WHEN email IS NULL THEN 0 ELSE i % 11 END AS emails,
         CASE WHEN phone IS NULL THEN 0 ELSE i % 3 END AS calls,
         CASE WHEN email IS NULL THEN 0 ELSE i % 4 END AS orders
    FROM h
), profiles AS (
  INSERT INTO read_models.customer_profiles
    (customer_id, identifiers, traits, first_seen_at, last_seen_at, web_events, email_events, phone_events,
     other_events, total_events, last_contact_at, last_contact_channel, last_contact_type,
     last_contact_summary, orders, net_revenue, currency, consent)
  SELECT customer_id,
         -- In identifier order, as array_agg(identifier ORDER BY identifier) gives it.
         array_remove(ARRAY[least(a1, coalesce(a2, a1)), CASE WHEN a2 IS NOT NULL THEN greatest(a1, a2) END,
                            email, phone, user_id], NULL),
         CASE WHEN email IS NULL THEN '{}'::jsonb ELSE
           jsonb_build_object('email', substr(email, 7), 'name', 'Customer ' || i,
                              'plan', CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END)
           || CASE WHEN phone IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('phone', substr(phone, 7)) END
         END,
         first_seen, first_seen + r * interval '120 days',
         web, emails, calls, 0, web + emails + calls,
         first_seen + r * interval '120 days', 'web', 'WebPageViewed', 'Pricing',
         orders, orders * 49.90, 'USD',
         -- Consent per purpose (every sixth identified customer unsubscribed from marketing email).
         CASE WHEN email IS NOT NULL AND i % 6 = 0 THEN jsonb_build_object('emailMarketing', jsonb_build_object(
           'value', false, 'source', 'EmailUnsubscribed',
           'at', to_char((first_seen + r * interval '120 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
         ELSE '{}'::jsonb END
    FROM p
)
INSERT INTO read_models.customer_identifiers (identifier, kind, customer_id)
SELECT v.identifier, split_part(v.identifier, ':', 1), p.customer_id
  FROM p CROSS JOIN LATERAL (VALUES (a1), (a2), (email), (phone), (user_id)) AS v(identifier)
 WHERE v.identifier IS NOT NULL`;

/**
 * The indexes of the two tables: a key constraint's definition (for ALTER TABLE ... ADD
 * CONSTRAINT) or the CREATE INDEX statement.
 */
async function indexDefinitions(pool) {
  const { rows } = await pool.query(
    `SELECT n.nspname AS schema, i.relname AS name, t.oid::regclass::text AS "table",
            c.conname AS constraint,
            coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(x.indexrelid)) AS definition
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = i.relnamespace
       LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
      WHERE x.indrelid = ANY($1::regclass[])
      ORDER BY i.relname`,
    [PROFILE_TABLES],
  );
  return rows;
}

/** The anonymous id and customer id of generated profile i, computed as the platform does. */
function generatedProfile(i) {
  const { customerIdFor } = benchRequire('@touchline/identity');
  const hex = createHash('md5').update(`anon-1-${i}`).digest('hex');
  const anon = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { anon, customerId: customerIdFor(`anonymousId:${anon}`) };
}

/** Deterministic sample of identified profiles and how each is looked up. */
function lookupSample(profiles, count, seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  const list = [];
  while (list.length < count) {
    const i = 1 + Math.floor(next() * profiles);
    if (i % 10 < 4) continue;
    const roll = next();
    const { anon, customerId } = generatedProfile(i);
    let query;
    let canonical;
    if (roll < 0.5) {
      // Emails as people type them: the API normalizes case and spaces.
      query = `email=${encodeURIComponent(i % 7 === 0 ? ` Customer${i}@Example.com` : `customer${i}@example.com`)}`;
      canonical = `email:customer${i}@example.com`;
    } else if (roll < 0.65 && i % 2 === 0) {
      query = `phone=${encodeURIComponent(`+4479${10_000_000 + i}`)}`;
      canonical = `phone:+4479${10_000_000 + i}`;
    } else if (roll < 0.85) {
      query = `userId=cust-${1_000_000 + i}`;
      canonical = `userId:cust-${1_000_000 + i}`;
    } else {
      query = `anonymousId=${anon}`;
      canonical = `anonymousId:${anon}`;
    }
    list.push({ i, query, canonical, customerId });
  }
  return list;
}

async function lookupStages(ctx, db, pool, sizes, postgresPids) {
  const out = {};
  // 1. The profiles: the projected ones out, N generated ones in.
  await pool.query(
    `TRUNCATE read_models.customer_profiles, read_models.customer_identifiers, read_models.identifier_facts,
              read_models.identity_links, read_models.customer_touchpoints, read_models.identity_observations`,
  );
  // A bulk load: the two tables' indexes and key constraints are dropped, the rows inserted, then
  // the same definitions (read from the catalog, so they are whatever the migrations made)
  // built again. Inserting into the indexes row by row takes much longer (200,000 profiles:
  // 27 s against 15 s on a loaded machine, and the gap grows with the tables).
  const definitions = await indexDefinitions(pool);
  for (const d of definitions) {
    await pool.query(
      d.constraint
        ? `ALTER TABLE ${d.table} DROP CONSTRAINT ${d.constraint}`
        : `DROP INDEX ${d.schema}.${d.name}`,
    );
  }
  const progress = new Progress('generating profiles (SQL)', sizes.profiles, 'profiles');
  const t0 = now();
  let nextFrom = 1;
  let generated = 0;
  await Promise.all(
    Array.from({ length: GENERATE_CONCURRENCY }, async () => {
      for (;;) {
        const from = nextFrom;
        nextFrom += GENERATE_CHUNK;
        if (from > sizes.profiles) return;
        const to = Math.min(sizes.profiles, from + GENERATE_CHUNK - 1);
        await pool.query(GENERATE_SQL, [from, to]);
        generated += to - from + 1;
        progress.update(generated);
      }
    }),
  );
  progress.finish();
  const generateMs = now() - t0;
  const t1 = now();
  const building = new Progress('building indexes and keys', definitions.length, 'indexes');
  let built = 0;
  const queue = [...definitions];
  await Promise.all(
    Array.from({ length: GENERATE_CONCURRENCY }, async () => {
      const client = await pool.connect();
      try {
        // For the sorts of this session's index builds only.
        await client.query(`SET maintenance_work_mem = '256MB'`);
        for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
          building.update(built, d.name);
          await client.query(
            d.constraint
              ? `ALTER TABLE ${d.table} ADD CONSTRAINT ${d.constraint} ${d.definition}`
              : d.definition,
          );
          building.update(++built);
        }
      } finally {
        client.release();
      }
    }),
  );
  building.update(built, '');
  building.finish();
  const after = await indexDefinitions(pool);
  const same = (list) => JSON.stringify(list.map((d) => d.definition).sort());
  if (same(after) !== same(definitions))
    throw new Error('the indexes after the bulk load differ from those before it');
  const indexMs = now() - t1;
  const t2 = now();
  log('  VACUUM ANALYZE of customer_profiles and customer_identifiers...');
  await pool.query(`VACUUM (ANALYZE) ${PROFILE_TABLES.join(', ')}`);
  const analyzeMs = now() - t2;
  const sizeRow = (
    await pool.query(`SELECT
        (SELECT count(*) FROM read_models.customer_profiles)::int AS profiles,
        (SELECT count(*) FROM read_models.customer_identifiers)::int AS identifiers,
        pg_total_relation_size('read_models.customer_profiles') AS profiles_bytes,
        pg_total_relation_size('read_models.customer_identifiers') AS identifiers_bytes`)
  ).rows[0];
  out.profileData = {
    profiles: sizeRow.profiles,
    identifiers: sizeRow.identifiers,
    profilesMiB: round(Number(sizeRow.profiles_bytes) / 2 ** 20),
    identifiersMiB: round(Number(sizeRow.identifiers_bytes) / 2 ** 20),
    generateSeconds: round(generateMs / 1000, 1),
    indexSeconds: round(indexMs / 1000, 1),
    vacuumAnalyzeSeconds: round(analyzeMs / 1000, 1),
  };
  log(
    `  ${sizeRow.profiles.toLocaleString('en-US')} profiles (${out.profileData.profilesMiB} MiB with indexes), ` +
      `${sizeRow.identifiers.toLocaleString('en-US')} identifiers (${out.profileData.identifiersMiB} MiB) ` +
      `in ${out.profileData.generateSeconds} s, indexes ${out.profileData.indexSeconds} s, VACUUM ANALYZE ${out.profileData.vacuumAnalyzeSeconds} s`,
  );

  const sample = lookupSample(sizes.profiles, sizes.lookups, 4242);
  const warm = lookupSample(sizes.profiles, Math.min(500, sizes.lookups), 777);
  // The generated customer ids are the platform's: check the sample against the table.
  const checked = await pool.query(
    `SELECT count(*)::int AS n FROM read_models.customer_identifiers ci
       JOIN unnest($1::text[], $2::text[]) AS s(identifier, customer_id) USING (identifier, customer_id)`,
    [sample.map((s) => s.canonical), sample.map((s) => s.customerId)],
  );
  if (checked.rows[0].n !== sample.length)
    throw new Error(
      `only ${checked.rows[0].n} of ${sample.length} sampled identifiers map to the customer id @touchline/identity computes`,
    );

  // 2. The query server, as an operator runs it.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tl-bench-profiles-'));
  onCleanup('profiles data directory', () => rm(dataDir, { recursive: true, force: true }));
  const server = await startServer(
    'query',
    { DATABASE_URL: db.url, TOUCHLINE_DATA_DIR: dataDir, TOUCHLINE_LOG_LEVEL: 'info' },
    ctx.serverOptions,
  );
  const { apiKey } = JSON.parse(await readFile(path.join(dataDir, 'credentials.json'), 'utf8'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (url, headers = {}) =>
    new Promise((resolve, reject) => {
      const request = http.get(url, { agent, headers }, (response) => {
        const chunks = [];
        response.on('data', (c) => chunks.push(c));
        response.on('end', () =>
          resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString('utf8') }),
        );
      });
      request.on('error', reject);
    });
  const auth = { authorization: `Bearer ${apiKey}` };
  const timed = async (label, items, fn) => {
    const p = new Progress(label, items.length, 'requests');
    const latencies = [];
    const tStart = now();
    for (let k = 0; k < items.length; k++) {
      const t = now();
      await fn(items[k]);
      latencies.push(now() - t);
      p.update(k + 1);
    }
    const ms = now() - tStart;
    p.finish();
    return {
      count: items.length,
      perSecond: round((items.length * 1000) / ms),
      latencyMs: latencySummary(latencies),
      raw: latencies.map((v) => round(v, 3)),
    };
  };
  const single = await pool.connect();
  try {
    const lookupHttp = async (s) => {
      const r = await get(`${server.url}/v1/profiles/lookup?${s.query}`, auth);
      if (r.status !== 200)
        throw new Error(`lookup ${s.query}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
      const body = JSON.parse(r.body);
      if (body.customerId !== s.customerId)
        throw new Error(`lookup ${s.query}: customer ${body.customerId}, expected ${s.customerId}`);
    };
    const lookupSql = async (s) => {
      // ProfileQueries.customerIdByIdentifierOrThrow, then profileOrThrow: the same two statements.
      const id = await single.query(
        'SELECT customer_id FROM read_models.customer_identifiers WHERE identifier = $1',
        [s.canonical],
      );
      await single.query('SELECT * FROM read_models.customer_profiles WHERE customer_id = $1', [
        id.rows[0].customer_id,
      ]);
    };
    // Warm-up: connections, JIT, the API key cache; not measured.
    for (const s of warm) await lookupHttp(s);
    for (const s of warm) await lookupSql(s);
    const meter = new CpuMeter({
      bench: () => [process.pid],
      query: () => [server.pid],
      postgres: postgresPids,
    });
    out.baselineE1 = await timed('baseline E1: SELECT 1 over pg', sample, () =>
      single.query('SELECT 1'),
    );
    out.baselineE2 = await timed('baseline E2: GET /health/live', sample, async () => {
      const r = await get(`${server.url}/health/live`);
      if (r.status !== 200) throw new Error(`health/live: HTTP ${r.status}`);
    });
    out.baselineE3 = await timed('baseline E3: the lookup SQL over pg', sample, lookupSql);
    await meter.start();
    out.profileLookup = await timed(
      `profile lookup over HTTP (${sizes.profiles.toLocaleString('en-US')} profiles)`,
      sample,
      lookupHttp,
    );
    out.profileLookup.cpu = await meter.stop();
    log(`  ${describeCpu(out.profileLookup.cpu)}`);
    out.profileLookup.profiles = sizes.profiles;
    for (const r of [out.baselineE1, out.baselineE2, out.baselineE3]) delete r.raw;
    out.profileLookup.byKind = {};
    for (const kind of ['email', 'phone', 'userId', 'anonymousId']) {
      const values = sample
        .map((s, k) => (s.query.startsWith(`${kind}=`) ? out.profileLookup.raw[k] : null))
        .filter((v) => v !== null);
      out.profileLookup.byKind[kind] = latencySummary(values);
    }
    for (const [label, r] of [
      ['E1 SELECT 1 over pg', out.baselineE1],
      ['E2 GET /health/live', out.baselineE2],
      ['E3 lookup SQL over pg (2 statements)', out.baselineE3],
      ['8  GET /v1/profiles/lookup', out.profileLookup],
    ]) {
      const l = r.latencyMs;
      log(
        `  ${label.padEnd(38)} p50 ${fmtMs(l.p50)}, p95 ${fmtMs(l.p95)}, p99 ${fmtMs(l.p99)}, max ${fmtMs(l.max)} (${r.perSecond.toLocaleString('en-US')}/s one at a time)`,
      );
    }

    // 3. What the projection's per-batch "retired profiles" query costs at this size: it has
    //    no index on identifiers, so it reads the whole table once per batch.
    // As many identifiers as the projection sent per batch in stage 7 (the mapping's keys).
    const perBatch = Math.max(1, Math.round(ctx.retiredIdentifiersPerBatch ?? BATCH_SIZE / 4));
    const identifiers = sample.slice(0, Math.min(perBatch, sample.length)).map((s) => s.canonical);
    // Once: at a million profiles one execution takes tens of seconds.
    const retiredSql =
      'SELECT customer_id FROM read_models.customer_profiles WHERE identifiers && $1::text[]';
    const plan = await single.query(`EXPLAIN ${retiredSql}`, [identifiers]);
    const retiredProgress = new Progress(
      `the projection's "identifiers && $1" (${identifiers.length} identifiers) once`,
      1,
      'queries',
    );
    const t = now();
    await single.query(retiredSql, [identifiers]);
    const retiredMs = now() - t;
    retiredProgress.update(1);
    retiredProgress.finish();
    out.retiredScan = {
      profiles: sizes.profiles,
      identifiers: identifiers.length,
      ms: round(retiredMs, 1),
      // The filter line holds every identifier: the start of each line is enough.
      plan: plan.rows.map((r) => r['QUERY PLAN'].slice(0, 120)),
    };
    log(
      `  the projection's per-batch "identifiers && $1" over ${sizes.profiles.toLocaleString('en-US')} profiles ` +
        `(${identifiers.length} identifiers): ${fmtMs(retiredMs)} (plan: ${out.retiredScan.plan[0].trim()})`,
    );
  } finally {
    single.release();
    agent.destroy();
    await server.stop();
  }
  return out;
}
