import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { MASTER_KEY_BYTES } from '../privacy/crypto/master-key';
import { ConfigError, type TouchlineConfig } from './config';

/**
 * The master key this process runs with. Given in TOUCHLINE_MASTER_KEY, it is used as is;
 * otherwise (development and embedded mode only: production refuses to start without it) it is
 * read from `<TOUCHLINE_DATA_DIR>/master.key`, generated there on first start. The log says where
 * the file is, never the key.
 */
export async function resolveMasterKey(
  setting: TouchlineConfig['masterKey'],
  logger: Logger,
): Promise<Buffer> {
  if (setting.kind === 'given') return setting.key;
  const existing = await readKeyFile(setting.file);
  if (existing) return existing;
  await mkdir(path.dirname(setting.file), { recursive: true });
  // Written aside, then hard-linked into place: roles starting together with one data directory
  // never read a half-written file, and the first link wins (the others read the winner's key).
  const aside = `${setting.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(aside, `${randomBytes(MASTER_KEY_BYTES).toString('base64')}\n`, { mode: 0o600 });
  try {
    await link(aside, setting.file);
    logger.info(
      { file: setting.file },
      'no TOUCHLINE_MASTER_KEY: generated a master key into this file (keep it, and back it up: without it the stored personal data cannot be read)',
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
  const created = await readKeyFile(setting.file);
  if (!created) throw new ConfigError(`The master key file ${setting.file} could not be read back`);
  return created;
}

async function readKeyFile(file: string): Promise<Buffer | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== MASTER_KEY_BYTES) {
    throw new ConfigError(
      `Invalid configuration:\n  master key file ${file}: must hold base64 of ${MASTER_KEY_BYTES} bytes (generate one with: openssl rand -base64 32)`,
    );
  }
  return key;
}
