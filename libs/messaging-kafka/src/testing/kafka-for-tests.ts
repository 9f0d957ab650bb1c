import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type KafkaTestTarget = { readonly brokers: string[] } | { readonly skip: string };

const probeTimeoutMs = 5000;

/**
 * The broker integration tests run against: KAFKA_BROKERS when set (comma separated), otherwise
 * the broker that `infra/kafka/start.sh` started (infra/kafka/run/broker.env) if it answers.
 * Without a broker the suite is skipped with the returned reason, unless
 * TOUCHLINE_REQUIRE_SERVICES=1: then this throws and the suite fails.
 *
 *   infra/kafka/start.sh && npx jest --selectProjects messaging-kafka; infra/kafka/stop.sh
 */
export async function kafkaBrokersForTests(
  env: NodeJS.ProcessEnv = process.env,
): Promise<KafkaTestTarget> {
  const candidate = configuredBrokers(env);
  if ('skip' in candidate) return requireOrSkip(env, candidate.skip);
  const failure = await new Promise<string | undefined>((resolve) => {
    execFile(
      process.execPath,
      probeArguments(candidate.brokers),
      { timeout: probeTimeoutMs * 2 },
      (error, _out, stderr) => resolve(error ? stderr.trim() || error.message : undefined),
    );
  });
  return failure ? requireOrSkip(env, failure) : candidate;
}

/** Same as kafkaBrokersForTests, blocking: for choosing `describe` or `describe.skip` at load time. */
export function kafkaBrokersForTestsSync(env: NodeJS.ProcessEnv = process.env): KafkaTestTarget {
  const candidate = configuredBrokers(env);
  if ('skip' in candidate) return requireOrSkip(env, candidate.skip);
  const probe = spawnSync(process.execPath, probeArguments(candidate.brokers), {
    timeout: probeTimeoutMs * 2,
    encoding: 'utf8',
  });
  if (probe.status === 0) return candidate;
  return requireOrSkip(
    env,
    probe.stderr.trim() || `broker probe failed (${probe.error?.message ?? probe.status})`,
  );
}

/** A topic or group name no other test uses (Kafka allows letters, digits, '.', '_' and '-'). */
export function uniqueTopicName(prefix: string): string {
  return `${prefix}.${randomUUID()}`;
}

function configuredBrokers(env: NodeJS.ProcessEnv): KafkaTestTarget {
  const fromEnv = env['KAFKA_BROKERS']?.trim();
  if (fromEnv) return { brokers: splitBrokers(fromEnv) };
  const file = brokerEnvFile();
  if (!file || !existsSync(file)) {
    return {
      skip: 'KAFKA_BROKERS is not set and no broker runs (start one: infra/kafka/start.sh)',
    };
  }
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('KAFKA_BROKERS='));
  const value = line?.slice('KAFKA_BROKERS='.length).trim();
  return value ? { brokers: splitBrokers(value) } : { skip: `${file} names no KAFKA_BROKERS` };
}

function requireOrSkip(env: NodeJS.ProcessEnv, reason: string): KafkaTestTarget {
  if (env['TOUCHLINE_REQUIRE_SERVICES'] === '1') {
    throw new Error(
      `Kafka is required (TOUCHLINE_REQUIRE_SERVICES=1) but not reachable: ${reason}`,
    );
  }
  return { skip: `Kafka tests skipped: ${reason}` };
}

function splitBrokers(value: string): string[] {
  return value
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

/** infra/kafka/run/broker.env of the checkout this file lives in (src or dist). */
function brokerEnvFile(): string | undefined {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'infra', 'kafka', 'start.sh')))
      return join(dir, 'infra', 'kafka', 'run', 'broker.env');
  }
  return undefined;
}

/** A child process that asks the broker to describe the cluster: a TCP connect is not enough. */
function probeArguments(brokers: string[]): string[] {
  const script = `
    const { Kafka, logLevel } = require(${JSON.stringify(require.resolve('kafkajs'))});
    const admin = new Kafka({ clientId: 'touchline-test-probe', brokers: JSON.parse(process.argv[1]),
      logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 1 } }).admin();
    const timer = setTimeout(() => { process.stderr.write('no answer from ' + process.argv[1]); process.exit(1); }, ${probeTimeoutMs});
    admin.connect().then(() => admin.describeCluster()).then(
      () => { clearTimeout(timer); return admin.disconnect(); },
      (e) => { process.stderr.write('broker ' + process.argv[1] + ' did not answer: ' + e.message); process.exit(1); });
  `;
  return ['-e', script, JSON.stringify(brokers)];
}
