import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { ApiKeyStore } from './api-keys';

/**
 * A fresh installation has no keys, so nothing could call it. On first start we create a write
 * key for a default web source and an admin key, and write them to a file only the owner can
 * read. The keys never go to the log; the log says where the file is. An advisory lock makes
 * roles starting together agree on one set of keys.
 */
export async function bootstrapCredentials(
  pool: Pool,
  dataDir: string,
  logger: Logger,
): Promise<void> {
  const keys = new ApiKeyStore(pool);
  const lock = await pool.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', ['touchline:bootstrap-credentials']);
    if ((await keys.count()) > 0) return;
    const writeKey = await keys.create({
      role: 'ingestion',
      label: 'default web source',
      sourceId: 'default-web',
      channel: 'web',
    });
    const adminKey = await keys.create({ role: 'admin', label: 'bootstrap admin' });
    await mkdir(dataDir, { recursive: true });
    const file = path.join(dataDir, 'credentials.json');
    const content = {
      note: 'Created on first start. Keep this file secret; the keys are stored only as hashes.',
      writeKey: writeKey.key,
      apiKey: adminKey.key,
    };
    await writeFile(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    logger.info(
      { file },
      'first start: created a write key and an admin API key; they are in this file',
    );
  } finally {
    await lock
      .query('SELECT pg_advisory_unlock(hashtext($1))', ['touchline:bootstrap-credentials'])
      .catch(() => undefined);
    lock.release();
  }
}
