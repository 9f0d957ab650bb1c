import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Field-level encryption of personal data inside event payloads (crypto-shredding): each value is
 * AES-256-GCM encrypted with its subject's key and replaced by a string that says so. Without the
 * key (destroyed on erasure) the value reads back as null; nothing else about the event changes.
 */

const PREFIX = 'tl:enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type DataKey = Buffer;

export function newDataKey(): DataKey {
  return randomBytes(32);
}

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

/** Encrypts any JSON value; `aad` binds the ciphertext to its event, so it cannot be moved. */
export function sealValue(value: unknown, key: DataKey, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/**
 * The value sealed by `sealValue`, or null: without a key, and with a key that is not the one it
 * was sealed with (after an erasure a returning identifier gets a new key; GCM's tag tells them
 * apart), so erased data reads as absent, never as an error that blocks a replay.
 */
export function openValue(sealed: string, key: DataKey | null, aad: string): unknown {
  if (key === null) return null;
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const text = Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

type Json = { [key: string]: unknown };
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Applies `change` to the value at each dotted path that exists; returns a new object. */
function mapPaths(data: Json, paths: readonly string[], change: (value: unknown) => unknown): Json {
  const copy: Json = { ...data };
  for (const path of paths) {
    const parts = path.split('.');
    let node: Json = copy;
    for (let i = 0; i < parts.length - 1; i += 1) {
      const part = parts[i] as string;
      const child = node[part];
      if (!isObject(child)) {
        node = {};
        break;
      }
      node[part] = { ...child };
      node = node[part] as Json;
    }
    const last = parts[parts.length - 1] as string;
    if (Object.prototype.hasOwnProperty.call(node, last) && node[last] !== null) {
      node[last] = change(node[last]);
    }
  }
  return copy;
}

/** Seals the personal-data paths of an event's data (absent and null values stay as they are). */
export function sealFields(data: Json, paths: readonly string[], key: DataKey, aad: string): Json {
  return mapPaths(data, paths, (value) => (isSealed(value) ? value : sealValue(value, key, aad)));
}

/** Opens what `sealFields` sealed; with no key every sealed value becomes null. */
export function openFields(
  data: Json,
  paths: readonly string[],
  key: DataKey | null,
  aad: string,
): Json {
  return mapPaths(data, paths, (value) => (isSealed(value) ? openValue(value, key, aad) : value));
}

/**
 * A pseudonym for an identifier (a stream id such as `email:ada@example.com`): keyed, so nobody
 * without the secret can test a guess, and stable, so lookups by email or phone still work.
 */
export function pseudonymOf(identifier: string, secret: Buffer): string {
  return `p:${createHmac('sha256', secret).update(identifier).digest('base64url').slice(0, 32)}`;
}
