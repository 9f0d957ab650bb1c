import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Channel } from '@touchline/contracts';
import type { Pool } from 'pg';

export type KeyRole = 'ingestion' | 'analyst' | 'admin';
export const KEY_ROLES: readonly KeyRole[] = ['ingestion', 'analyst', 'admin'];

export interface ApiKeyPrincipal {
  readonly keyId: string;
  readonly role: KeyRole;
  /** Set for ingestion (write) keys: the source the events come from and its channel. */
  readonly sourceId: string | null;
  readonly channel: Channel | null;
  /** Events per second this source may send (ingestion keys); null: the configured default. */
  readonly rateLimitPerSecond: number | null;
}

export interface KeyDescription extends ApiKeyPrincipal {
  readonly label: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
}

export interface CreatedKey extends ApiKeyPrincipal {
  /** The secret itself: returned once, stored only as a hash. */
  readonly key: string;
}

export interface NewKey {
  readonly role: KeyRole;
  readonly label: string;
  readonly sourceId?: string;
  readonly channel?: Channel;
  readonly expiresAt?: Date;
  readonly rateLimitPerSecond?: number;
}

const CACHE_TTL_MS = 5_000;

interface KeyRow {
  id: string;
  role: KeyRole;
  source_id: string | null;
  channel: Channel | null;
  rate_limit_per_second: number | null;
}

function principalOf(row: KeyRow): ApiKeyPrincipal {
  return {
    keyId: row.id,
    role: row.role,
    sourceId: row.source_id,
    channel: row.channel,
    rateLimitPerSecond: row.rate_limit_per_second,
  };
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * API and write keys, stored hashed (SHA-256: the keys are 192-bit random, so a slow hash adds
 * nothing). Lookups are cached for a few seconds so the collector does not query the database on
 * every request; a revoked key stops working within that time in other processes, at once here.
 */
export class ApiKeyStore {
  private readonly cache = new Map<string, { principal: ApiKeyPrincipal | null; until: number }>();
  private readonly sourceCache = new Map<string, { channel: Channel | null; until: number }>();

  constructor(
    private readonly pool: Pool,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: NewKey): Promise<CreatedKey> {
    const prefix = input.role === 'ingestion' ? 'tlw' : 'tlk';
    const key = `${prefix}_${randomBytes(24).toString('base64url')}`;
    const id = randomUUID();
    await this.pool.query(
      `INSERT INTO access.api_keys (id, key_hash, role, source_id, channel, label, expires_at, rate_limit_per_second)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        id,
        hashKey(key),
        input.role,
        input.sourceId ?? null,
        input.channel ?? null,
        input.label,
        input.expiresAt ?? null,
        input.rateLimitPerSecond ?? null,
      ],
    );
    return {
      key,
      keyId: id,
      role: input.role,
      sourceId: input.sourceId ?? null,
      channel: input.channel ?? null,
      rateLimitPerSecond: input.rateLimitPerSecond ?? null,
    };
  }

  async count(): Promise<number> {
    const result = await this.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM access.api_keys',
    );
    return Number(result.rows[0]?.n ?? 0);
  }

  async list(): Promise<KeyDescription[]> {
    const result = await this.pool.query<
      KeyRow & { label: string; created_at: Date; expires_at: Date | null; revoked_at: Date | null }
    >(
      `SELECT id, role, source_id, channel, rate_limit_per_second, label, created_at, expires_at, revoked_at
         FROM access.api_keys ORDER BY created_at, id`,
    );
    return result.rows.map((row) => ({
      ...principalOf(row),
      label: row.label,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
    }));
  }

  /** Revoke a key; false when there is no such key or it was already revoked. */
  async revoke(keyId: string): Promise<boolean> {
    const result = await this.pool.query(
      'UPDATE access.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
      [keyId],
    );
    this.cache.clear();
    this.sourceCache.clear();
    return (result.rowCount ?? 0) > 0;
  }

  /** The channel of an active source (one with a usable write key), or null. */
  async sourceChannel(sourceId: string): Promise<Channel | null> {
    if (sourceId.length === 0 || sourceId.length > 200) return null;
    const cacheKey = `source:${sourceId}`;
    const cached = this.sourceCache.get(cacheKey);
    if (cached && cached.until > this.now()) return cached.channel;
    const result = await this.pool.query<{ channel: Channel }>(
      `SELECT channel FROM access.api_keys
        WHERE source_id = $1 AND role = 'ingestion' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
        LIMIT 1`,
      [sourceId],
    );
    const channel = result.rows[0]?.channel ?? null;
    if (this.sourceCache.size > 10_000) this.sourceCache.clear();
    this.sourceCache.set(cacheKey, { channel, until: this.now() + CACHE_TTL_MS });
    return channel;
  }

  /** The key's principal, or null when it is unknown, revoked or expired. */
  async resolve(key: string): Promise<ApiKeyPrincipal | null> {
    if (key.length === 0 || key.length > 200) return null;
    const hash = hashKey(key);
    const cached = this.cache.get(hash);
    if (cached && cached.until > this.now()) return cached.principal;
    const result = await this.pool.query<KeyRow & { expires_at: Date | null }>(
      `SELECT id, role, source_id, channel, rate_limit_per_second, expires_at FROM access.api_keys
        WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [hash],
    );
    const row = result.rows[0];
    const principal = row ? principalOf(row) : null;
    if (this.cache.size > 10_000) this.cache.clear();
    // A cached key must not outlive its expiry.
    const until = Math.min(
      this.now() + CACHE_TTL_MS,
      row?.expires_at ? new Date(row.expires_at).getTime() : Number.POSITIVE_INFINITY,
    );
    this.cache.set(hash, { principal, until });
    return principal;
  }
}
