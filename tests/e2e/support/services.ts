import { type TestDatabaseTarget, testDatabaseTargets } from '@touchline/platform/testing';

/** Why the full-mode suites cannot run here (found by the global setup), or undefined. */
export const fullModeSkipReason: string | undefined = process.env['TOUCHLINE_E2E_FULL_SKIP'];

/** `describe` when Kafka and PostgreSQL are here, `describe.skip` otherwise (the reason is printed). */
export const describeFullMode: jest.Describe =
  fullModeSkipReason === undefined ? describe : describe.skip;

export function kafkaBrokers(): string[] {
  const brokers = process.env['TOUCHLINE_E2E_KAFKA_BROKERS'];
  if (!brokers)
    throw new Error('Kafka brokers unknown: the e2e global setup did not find a broker');
  return brokers.split(',');
}

export function postgresTarget(): TestDatabaseTarget {
  const target = testDatabaseTargets().find((t) => t.kind === 'postgresql');
  if (!target) throw new Error('PostgreSQL unknown: set TOUCHLINE_TEST_DATABASE_URL');
  return target;
}
