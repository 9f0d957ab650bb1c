// Runs once before the end-to-end tests: build the server they start, then find out whether
// the real services for the full-mode tests are here. The answer goes into the environment the
// test workers inherit; with TOUCHLINE_REQUIRE_SERVICES=1 a missing service fails the run.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  const root = path.resolve(__dirname, '../../..');
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-b', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  // The server serves /tracker.js from the tracker's bundle, which tsc does not produce.
  await require(path.join(root, 'libs/tracker/build.js')).bundleTracker({ write: true });
  const reasons = [];
  const { kafkaBrokersForTests } = require('@touchline/messaging-kafka/testing');
  const kafka = await kafkaBrokersForTests();
  if ('skip' in kafka) reasons.push(kafka.skip);
  else process.env.TOUCHLINE_E2E_KAFKA_BROKERS = kafka.brokers.join(',');
  if (!process.env.TOUCHLINE_TEST_DATABASE_URL) {
    const message = 'TOUCHLINE_TEST_DATABASE_URL is not set';
    if (process.env.TOUCHLINE_REQUIRE_SERVICES === '1')
      throw new Error(`${message} (TOUCHLINE_REQUIRE_SERVICES=1)`);
    reasons.push(message);
  }
  if (reasons.length > 0) {
    process.env.TOUCHLINE_E2E_FULL_SKIP = reasons.join('; ');
    process.stderr.write(
      `\nFull-mode end-to-end tests will be skipped: ${process.env.TOUCHLINE_E2E_FULL_SKIP}\n`,
    );
  }
};
