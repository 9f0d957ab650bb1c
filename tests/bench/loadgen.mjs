// HTTP load generator, run as a child process (fork) so it does not share an event loop with the
// benchmark's bookkeeping or the server. It pre-builds every request body, then posts them over
// `concurrency` keep-alive connections (closed loop), or paced at `rate` events/s when set.
// Protocol (IPC): parent sends {type:'start', ...config}; child builds the bodies and sends
// {type:'ready'}; parent sends {type:'go'}; child warms up, sends {type:'measuring'}, then
// {type:'progress', sent} a few times a second, then {type:'result', ...} and exits.
import http from 'node:http';
import { trackMessage } from './lib/workload.mjs';

function post(agent, url, auth, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          authorization: auth,
        },
      },
      (response) => {
        const chunks = [];
        response.on('data', (c) => chunks.push(c));
        response.on('end', () =>
          resolve({ status: response.statusCode, body: Buffer.concat(chunks) }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function acceptedIn(body) {
  try {
    return Number(JSON.parse(body).accepted) || 0;
  } catch {
    return 0;
  }
}

async function main(config) {
  const {
    url,
    writeKey,
    runId,
    customers,
    batchSize,
    concurrency,
    warmupEvents,
    totalEvents,
    rate,
  } = config;
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL('/v1/batch', url);

  const build = (from, count) => {
    const bodies = [];
    for (let i = from; i < from + count; i += batchSize) {
      const n = Math.min(batchSize, from + count - i);
      const batch = new Array(n);
      for (let k = 0; k < n; k++) batch[k] = trackMessage(runId, i + k, customers);
      bodies.push({
        events: n,
        body: Buffer.from(JSON.stringify({ batch, sentAt: new Date().toISOString() })),
      });
    }
    return bodies;
  };
  const warmup = build(0, warmupEvents);
  const measured = build(warmupEvents, totalEvents);
  const bodyBytes = measured.reduce((n, b) => n + b.body.length, 0);
  const go = new Promise((resolve) => process.once('message', resolve));
  process.send({ type: 'ready', requestBytes: Math.round(bodyBytes / measured.length) });
  await go;

  const statuses = {};
  const errors = [];
  const runPhase = async (bodies, record, pace) => {
    let next = 0;
    let sent = 0;
    const latencies = [];
    const started = performance.now();
    const timer = record ? setInterval(() => process.send({ type: 'progress', sent }), 250) : null;
    const worker = async () => {
      for (;;) {
        const index = next++;
        if (index >= bodies.length) return;
        const { events, body } = bodies[index];
        if (pace) {
          const due = started + ((index * batchSize) / pace) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const t0 = performance.now();
        let status;
        let lastBody = '';
        for (let attempt = 0; ; attempt++) {
          try {
            const response = await post(agent, target, auth, body);
            status = response.status;
            lastBody = response.body.toString('utf8');
            if (status !== 200 && errors.length < 5)
              errors.push(`${status}: ${response.body.toString('utf8').slice(0, 300)}`);
            // Segment clients retry 429/503; so do we, and the latency includes the retry.
            if ((status === 429 || status === 503) && attempt < 20) {
              await new Promise((r) => setTimeout(r, 100));
              continue;
            }
          } catch (error) {
            status = 'network';
            if (errors.length < 5) errors.push(String(error?.message ?? error));
          }
          break;
        }
        const t1 = performance.now();
        if (record) {
          latencies.push(t1 - t0);
          statuses[status] = (statuses[status] ?? 0) + events;
          // A 200 answers per message: count what was accepted, and say when some were not.
          if (status === 200) {
            const accepted = acceptedIn(lastBody);
            sent += accepted;
            if (accepted < events && errors.length < 5)
              errors.push(`200 with ${events - accepted} rejected: ${lastBody.slice(0, 300)}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (timer) clearInterval(timer);
    return {
      latencies,
      startedAt: performance.timeOrigin + started,
      ms: performance.now() - started,
      sent,
    };
  };

  await runPhase(warmup, false, null);
  process.send({ type: 'measuring' });
  const result = await runPhase(measured, true, rate ?? null);
  process.send({
    type: 'result',
    accepted: result.sent,
    statuses,
    errors,
    latencies: result.latencies,
    startedAt: result.startedAt,
    ms: result.ms,
    requests: measured.length,
  });
  agent.destroy();
}

process.once('message', (message) => {
  if (message?.type !== 'start') return;
  main(message).then(
    () => process.exit(0),
    (error) => {
      process.send({ type: 'error', message: String(error?.stack ?? error) });
      process.exit(1);
    },
  );
});
