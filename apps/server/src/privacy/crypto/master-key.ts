import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';

/**
 * One secret to manage (TOUCHLINE_MASTER_KEY, 32 bytes): the pseudonym HMAC secret and the key
 * that wraps every subject's data key are derived from it with HKDF under distinct labels, so a
 * leak of one derived key says nothing about the other.
 */
export const MASTER_KEY_BYTES = 32;

const HKDF_SALT = 'touchline';
/** Changing a label changes every pseudonym or every wrapped key: these are part of the format. */
export const PSEUDONYM_LABEL = 'touchline/pseudonym-secret/v1';
export const KEY_WRAPPING_LABEL = 'touchline/key-wrapping/v1';
const KEY_CHECK_LABEL = 'touchline/master-key-check/v1';

export interface DerivedKeys {
  /** Secret of the keyed hash that turns identifiers into subjects (pseudonyms). */
  readonly pseudonymSecret: Buffer;
  /** Wraps (encrypts) the per-subject data keys in privacy.subject_keys. */
  readonly keyWrappingKey: Buffer;
}

function derive(masterKey: Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, HKDF_SALT, label, 32));
}

export function deriveKeys(masterKey: Buffer): DerivedKeys {
  if (masterKey.length !== MASTER_KEY_BYTES) {
    throw new Error(`The master key must be ${MASTER_KEY_BYTES} bytes`);
  }
  return {
    pseudonymSecret: derive(masterKey, PSEUDONYM_LABEL),
    keyWrappingKey: derive(masterKey, KEY_WRAPPING_LABEL),
  };
}

/** A digest that tells master keys apart without revealing them: HMAC of a fixed label. */
export function keyCheckDigest(masterKey: Buffer): string {
  return createHmac('sha256', masterKey).update(KEY_CHECK_LABEL).digest('base64');
}

export class MasterKeyMismatchError extends Error {
  readonly code = 'MASTER_KEY_MISMATCH';
}

/**
 * Stores the key-check digest on first start; afterwards refuses a process whose master key is
 * not the one the data was written with, so data is never silently written under two keys.
 */
export async function verifyMasterKeyOrThrow(pool: Pool, masterKey: Buffer): Promise<void> {
  const digest = keyCheckDigest(masterKey);
  // Roles starting together race here: the first digest stored wins, everyone compares with it.
  await pool.query(
    `INSERT INTO privacy.master_key_check (singleton, digest) VALUES (true, $1)
     ON CONFLICT (singleton) DO NOTHING`,
    [digest],
  );
  const { rows } = await pool.query<{ digest: string }>(
    'SELECT digest FROM privacy.master_key_check',
  );
  const stored = Buffer.from(rows[0]?.digest ?? '', 'base64');
  const mine = Buffer.from(digest, 'base64');
  if (stored.length !== mine.length || !timingSafeEqual(stored, mine)) {
    throw new MasterKeyMismatchError(
      'TOUCHLINE_MASTER_KEY is not the master key this database was first started with: ' +
        'its personal data could not be read, and new data would be written under a second key. ' +
        'Start with the original key (in development: the master.key file in TOUCHLINE_DATA_DIR).',
    );
  }
}
