// Readiness probe for start.sh: a TCP connect is not enough, the broker is ready when an admin
// client's describeCluster answers. Polls every 500 ms; exits 1 on timeout or when the broker
// process has exited.
//   node wait-ready.mjs <host:port> [pid] [timeoutSeconds]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Kafka, logLevel } = require('kafkajs');

const [broker, pidArg, timeoutArg] = process.argv.slice(2);
if (!broker) {
  process.stderr.write('usage: node wait-ready.mjs <host:port> [pid] [timeoutSeconds]\n');
  process.exit(2);
}
const pid = pidArg ? Number(pidArg) : undefined;
const deadline = Date.now() + Number(timeoutArg ?? 60) * 1000;

const alive = (p) => {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
};

const kafka = new Kafka({
  clientId: 'touchline-wait-ready',
  brokers: [broker],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 1000,
  requestTimeout: 2000,
  retry: { retries: 0 },
});

for (;;) {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.disconnect();
    if (cluster.controller !== null && cluster.brokers.length > 0) process.exit(0);
  } catch {
    await admin.disconnect().catch(() => undefined);
  }
  if (pid !== undefined && !alive(pid)) {
    process.stderr.write(`The broker process (pid ${pid}) exited.\n`);
    process.exit(1);
  }
  if (Date.now() >= deadline) {
    process.stderr.write(`No answer from ${broker} in time.\n`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}
