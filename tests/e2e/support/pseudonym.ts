import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The event store keeps events under pseudonyms, not identifiers (crypto-shredding,
 * docs/security.md). Tests that look stored events up with SQL compute the pseudonym as the
 * server does, from the master key it generated into its data directory. Written out here rather
 * than imported, so a change of the derivation (which would orphan every stored key) fails tests.
 */

/** The master key a server started with `TOUCHLINE_DATA_DIR=dataDir` (and no TOUCHLINE_MASTER_KEY) uses. */
export function masterKeyOf(dataDir: string): Buffer {
  return Buffer.from(readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim(), 'base64');
}

const derive = (masterKey: Buffer, label: string): Buffer =>
  Buffer.from(hkdfSync('sha256', masterKey, 'touchline', label, 32));

/** `p:<32 chars>`: the stream id under which events of `streamId` (e.g. `user:ada`) are stored. */
export function pseudonymOf(streamId: string, masterKey: Buffer): string {
  const secret = derive(masterKey, 'touchline/pseudonym-secret/v1');
  return `p:${createHmac('sha256', secret).update(streamId).digest('base64url').slice(0, 32)}`;
}

/** The stored stream id of `streamId` for the server whose data directory is `dataDir`. */
export function storedStreamId(dataDir: string, streamId: string): string {
  return pseudonymOf(streamId, masterKeyOf(dataDir));
}

/**
 * Opens a value sealed by the server (`tl:enc:v1:` + base64url of IV, GCM tag, ciphertext) with
 * the key it was sealed with and its additional data; null when the key cannot open it. This is
 * what a downstream consumer of republished events does (docs/security.md).
 */
export function openSealed(sealed: string, key: Buffer, aad: string): unknown {
  const raw = Buffer.from(sealed.slice('tl:enc:v1:'.length), 'base64url');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
    return JSON.parse(text.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

/**
 * A subject's data key from its row in privacy.subject_keys (`wrapped_key`, sealed with the
 * key-wrapping key under the subject as additional data); null once destroyed.
 */
export function unwrapSubjectKey(
  wrappedKey: string | null,
  subject: string,
  masterKey: Buffer,
): Buffer | null {
  if (wrappedKey === null) return null;
  const opened = openSealed(wrappedKey, derive(masterKey, 'touchline/key-wrapping/v1'), subject);
  return typeof opened === 'string' ? Buffer.from(opened, 'base64') : null;
}

interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** A stored event as the server's decorator returns it: the real stream id, fields opened. */
export interface OpenedEvent<D = Record<string, unknown>> {
  stream_id: string;
  event_id: string;
  event_type: string;
  data: D;
  metadata: Record<string, unknown>;
}

const isSealed = (value: unknown): value is string =>
  typeof value === 'string' && value.startsWith('tl:enc:v1:');

function openDeep(value: unknown, key: Buffer | null, aad: string): unknown {
  if (isSealed(value)) return key === null ? null : openSealed(value, key, aad);
  if (Array.isArray(value)) return value.map((item) => openDeep(item, key, aad));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([name, item]) => [name, openDeep(item, key, aad)]),
    );
  }
  return value;
}

/**
 * Every stored event in global order, opened with the subject keys the way the server opens
 * them: for tests that inspect stored payloads with SQL. Events whose key was destroyed come back
 * with their personal fields null and the pseudonym as their stream id.
 */
export async function openedEvents<D = Record<string, unknown>>(
  sql: Queryable,
  masterKey: Buffer,
): Promise<OpenedEvent<D>[]> {
  const { rows } = await sql.query<OpenedEvent & { wrapped_key: string | null }>(
    `SELECT e.stream_id, e.event_id::text AS event_id, e.event_type, e.data, e.metadata, k.wrapped_key
       FROM event_store.events e LEFT JOIN privacy.subject_keys k ON k.subject = e.stream_id
      ORDER BY e.transaction_id, e.global_position`,
  );
  return rows.map(({ wrapped_key, ...row }) => {
    const key = unwrapSubjectKey(wrapped_key, row.stream_id, masterKey);
    const { sealedStreamId, ...metadata } = row.metadata;
    const streamId = isSealed(sealedStreamId) ? openDeep(sealedStreamId, key, row.event_id) : null;
    return {
      ...row,
      stream_id: typeof streamId === 'string' ? streamId : row.stream_id,
      data: openDeep(row.data, key, row.event_id) as D,
      metadata,
    };
  });
}
