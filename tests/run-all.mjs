#!/usr/bin/env node
// `npm test`: static checks first (fast, and they make the build the end-to-end tests run),
// then every Jest project: unit, integration and end-to-end tests.
import { spawnSync } from 'node:child_process';

const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };
const steps = [
  ['project graph (for module-boundary lint)', 'npx', ['nx', 'show', 'projects']],
  ['lint', 'npx', ['eslint', '--max-warnings', '0', '.']],
  ['format', 'npx', ['prettier', '--check', '--log-level', 'warn', '.']],
  ['typecheck and build', 'npx', ['tsc', '-b', 'tsconfig.json']],
  ['contracts: generated types current, schemas compatible', 'node', ['tools/contracts/check.mjs']],
  ['tests: unit, integration, end-to-end', 'npx', ['jest', ...process.argv.slice(2)]],
];

const services = [
  `PostgreSQL: ${env.TOUCHLINE_TEST_DATABASE_URL ? 'yes' : 'no (set TOUCHLINE_TEST_DATABASE_URL)'}`,
  `Kafka: ${env.KAFKA_BROKERS ? env.KAFKA_BROKERS : 'no (start one: bash infra/kafka/start.sh)'}`,
  `missing service is ${env.TOUCHLINE_REQUIRE_SERVICES === '1' ? 'a failure' : 'a skip'}`,
];
process.stdout.write(`Services for integration tests: ${services.join('; ')}\n`);

for (const [name, command, args] of steps) {
  const started = Date.now();
  process.stdout.write(`\n▶ ${name}\n`);
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stdout.write(`\n✗ ${name} failed after ${seconds}s\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`✓ ${name} (${seconds}s)\n`);
}
