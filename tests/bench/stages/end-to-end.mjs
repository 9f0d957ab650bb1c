// Stage 6: all four roles as separate processes on a fresh database and fresh topics.
//   a. sustained load: N events posted as fast as the collector takes them; throughput is N
//      over the time from the first request to the moment the read model counts all N
//      (sum of customer_activity.total_events), with the times at which the collector, the
//      recorder and the projector each finished;
//   b. latency: single track calls, one at a time, on an otherwise idle system; each is polled
//      for in the query API (GET /v1/customers/user:<id>) until it is counted.
import http from 'node:http';
import { CpuMeter, describeCpu } from '../lib/cpu.mjs';
import { loadGenerator } from '../lib/load.mjs';
import { latencySummary, log, now, Progress, round } from '../lib/report.mjs';
import { backendPids } from '../lib/services.mjs';
import { startServer } from '../lib/server.mjs';
import { benchRequire, trackMessage } from '../lib/workload.mjs';
import { storedUserStreams } from '../lib/pseudonym.mjs';
import { credentials } from './collector.mjs';

const ROLES = ['collector', 'recorder', 'projector', 'query'];

export async function endToEnd(ctx, results) {
  const pg = benchRequire('pg');
  const { shape, sizes } = ctx;
  const env = ctx.serverEnv(ctx.db2, ctx.e2ePrefix);
  // The first start runs migrations and creates keys; the others start together after it.
  const servers = {};
  servers.collector = await startServer('collector', env, ctx.serverOptions);
  await Promise.all(
    ROLES.slice(1).map(async (role) => {
      servers[role] = await startServer(role, env, ctx.serverOptions);
    }),
  );
  const { writeKey, apiKey } = await credentials(ctx.dataDir(ctx.db2));
  const monitor = new pg.Client({ connectionString: ctx.db2.url });
  await monitor.connect();
  try {
    const counts = async (runId) => {
      const { rows } = await monitor.query(
        `SELECT (SELECT count(*) FROM event_store.events WHERE stream_id = ANY($2::text[])) AS stored,
                (SELECT coalesce(sum(total_events), 0) FROM read_models.customer_activity WHERE customer_key LIKE $1) AS visible`,
        // Stored under pseudonyms (crypto-shredding); the read model keys are the identifiers.
        [`user:${runId}-%`, storedUserStreams(ctx.dataDir(ctx.db2), runId, shape.customers)],
      );
      return { stored: Number(rows[0].stored), visible: Number(rows[0].visible) };
    };
    const sustained = async (runId, events, label) => {
      const progress = new Progress(label, events);
      progress.update(0, 'load generator building request bodies');
      const cpuSources = Object.fromEntries(ROLES.map((role) => [role, () => [servers[role].pid]]));
      const meter = new CpuMeter({
        ...cpuSources,
        loadgen: () => [load.pid],
        kafka: () => (ctx.kafkaPid ? [ctx.kafkaPid] : []),
        postgres: () => backendPids(monitor, [ctx.db2.name]),
      });
      const load = loadGenerator(
        {
          url: servers.collector.url,
          writeKey,
          runId,
          customers: shape.customers,
          batchSize: shape.batchSize,
          concurrency: shape.httpConcurrency,
          warmupEvents: 0,
          totalEvents: events,
        },
        {
          onMeasuring: () => {
            progress.update(0, '');
            void meter.start();
          },
        },
      );
      await load.ready;
      let sending = true;
      const sent = load.go().finally(() => (sending = false));
      const marks = { collectorMs: null, storedMs: null, visibleMs: null };
      let c = { stored: 0, visible: 0 };
      let lastChange = now();
      let lastVisible = -1;
      const t0 = now();
      while (c.visible < events) {
        await new Promise((r) => setTimeout(r, 100));
        c = await counts(runId);
        const t = now() - t0;
        if (!sending && marks.collectorMs === null) marks.collectorMs = t;
        if (c.stored >= events && marks.storedMs === null) marks.storedMs = t;
        if (c.visible !== lastVisible) lastChange = now();
        lastVisible = c.visible;
        progress.update(
          c.visible,
          `stored ${Math.round((100 * c.stored) / events)}%${sending ? ', sending' : ''}`,
        );
        if (now() - lastChange > 60_000)
          throw new Error(`end to end stalled at ${c.visible} of ${events} events`);
      }
      marks.visibleMs = now() - t0;
      const cpu = await meter.stop();
      const result = await sent;
      progress.finish();
      if (result.accepted !== events)
        throw new Error(`the collector accepted ${result.accepted} of ${events} events`);
      // The load generator's clock starts at its first measured request; ours a little earlier.
      const startedLateMs = result.startedAt - (performance.timeOrigin + t0);
      const ms = marks.visibleMs - startedLateMs;
      return {
        events,
        seconds: round(ms / 1000, 2),
        perSecond: round((events * 1000) / ms),
        collectorPerSecond: round((events * 1000) / result.ms),
        collectorDoneS: round(result.ms / 1000, 2),
        storedS: round((marks.storedMs - startedLateMs) / 1000, 2),
        visibleS: round(ms / 1000, 2),
        requestLatencyMs: latencySummary(result.latencies),
        cpu,
      };
    };

    log('  warm-up: JIT, connections, consumer group and first customers...');
    await sustained(`${ctx.runId}-w`, sizes.e2eWarmup, 'end to end warm-up');
    const sustainedResult = await sustained(
      `${ctx.runId}-e`,
      sizes.e2eEvents,
      'end to end (all four roles)',
    );
    log(`  ${describeCpu(sustainedResult.cpu)}`);
    results.endToEnd = sustainedResult;

    // Let the system settle (the projector idles, the consumer waits) before measuring latency.
    await new Promise((r) => setTimeout(r, 2_000));
    results.latency = await latencyProbe(ctx, servers, writeKey, apiKey);
    for (const role of ROLES) {
      if (servers[role].warnings.length > 0)
        log(`  ${role} warnings: ${servers[role].warnings.slice(0, 3).join(' | ')}`);
    }
  } finally {
    await monitor.end();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
}

function request(agent, url, options, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, ...options }, (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () =>
        resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function latencyProbe(ctx, servers, writeKey, apiKey) {
  const { sizes, shape } = ctx;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const runId = `${ctx.runId}-l`;
  const visible = [];
  const acknowledged = [];
  let polls = 0;
  const progress = new Progress('HTTP → visible in the query API', sizes.probes, 'events');
  for (let k = 0; k < sizes.probes; k++) {
    // A new customer each time, so "counted" means this very event arrived.
    const message = { ...trackMessage(runId, k, sizes.probes), userId: `${runId}-p${k}` };
    delete message.type;
    const body = JSON.stringify(message);
    const t0 = now();
    const posted = await request(
      agent,
      `${servers.collector.url}/v1/track`,
      { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth } },
      body,
    );
    acknowledged.push(now() - t0);
    if (posted.status !== 200)
      throw new Error(`POST /v1/track answered ${posted.status}: ${posted.body}`);
    for (;;) {
      polls++;
      const got = await request(
        agent,
        `${servers.query.url}/v1/customers/user:${encodeURIComponent(message.userId)}`,
        {
          headers: { authorization: `Bearer ${apiKey}` },
        },
      );
      if (got.status === 200 && JSON.parse(got.body).totalEvents >= 1) break;
      if (got.status !== 404 && got.status !== 200)
        throw new Error(`GET customer answered ${got.status}: ${got.body}`);
      if (now() - t0 > 30_000) throw new Error(`event ${k} not visible after 30 s`);
      await new Promise((r) => setTimeout(r, shape.pollMs));
    }
    visible.push(now() - t0);
    progress.update(k + 1);
    // A short random pause: the probes do not line up with the projector's polling.
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
  }
  progress.finish();
  agent.destroy();
  return {
    samples: visible.length,
    pollIntervalMs: shape.pollMs,
    pollsPerEvent: round(polls / visible.length, 1),
    visibleMs: latencySummary(visible),
    acknowledgedMs: latencySummary(acknowledged),
    visibleRaw: visible.map((v) => round(v, 2)),
  };
}
