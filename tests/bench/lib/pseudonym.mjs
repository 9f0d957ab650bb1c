// The event store keeps events under pseudonyms of their stream ids (crypto-shredding,
// docs/security.md): a benchmark that counts a run's stored events computes them the way the
// server does, from the master key the server generated into its data directory.
import { createHmac, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The stored stream ids of `user:<runId>-u<i>` for every customer of a run. */
export function storedUserStreams(dataDir, runId, customers) {
  const masterKey = Buffer.from(
    readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim(),
    'base64',
  );
  const secret = Buffer.from(
    hkdfSync('sha256', masterKey, 'touchline', 'touchline/pseudonym-secret/v1', 32),
  );
  return Array.from(
    { length: customers },
    (_, i) =>
      `p:${createHmac('sha256', secret).update(`user:${runId}-u${i}`).digest('base64url').slice(0, 32)}`,
  );
}
