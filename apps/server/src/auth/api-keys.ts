import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Channel } from '@touchline/contracts';
import type { Pool } from 'pg';

export type KeyRole = 'ingestion' | 'analyst' | 'admin';

export interface ApiKeyPrincipal {
  readonly keyId: string;
  readonly role: KeyRole;
  /** Set for ingestion (write) keys: the source the events come from and its channel. */
  readonly sourceId: string | null;
  readonly channel: Channel | null;
}

export interface CreatedKey extends ApiKeyPrincipal {
  /** The secret itself: returned once, stored only as a hash. */
  readonly key: string;
}

const CACHE_TTL_MS = 5_000;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * API and write keys, stored hashed. Lookups are cached for a few seconds so the collector does
 * not query the database on every request; a revoked key stops working within that time.
 */
export class ApiKeyStore {
  private readonly cache = new Map<string, { principal: ApiKeyPrincipal | null; until: number }>();

  constructor(
    private readonly pool: Pool,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: {
    role: KeyRole;
    label: string;
    sourceId?: string;
    channel?: Channel;
    expiresAt?: Date;
  }): Promise<CreatedKey> {
    const prefix = input.role === 'ingestion' ? 'tlw' : 'tlk';
    const key = `${prefix}_${randomBytes(24).toString('base64url')}`;
    const id = randomUUID();
    await this.pool.query(
      `INSERT INTO access.api_keys (id, key_hash, role, source_id, channel, label, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        id,
        hashKey(key),
        input.role,
        input.sourceId ?? null,
        input.channel ?? null,
        input.label,
        input.expiresAt ?? null,
      ],
    );
    return {
      key,
      keyId: id,
      role: input.role,
      sourceId: input.sourceId ?? null,
      channel: input.channel ?? null,
    };
  }

  async count(): Promise<number> {
    const result = await this.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM access.api_keys',
    );
    return Number(result.rows[0]?.n ?? 0);
  }

  /** The key's principal, or null when it is unknown, revoked or expired. */
  async resolve(key: string): Promise<ApiKeyPrincipal | null> {
    const hash = hashKey(key);
    const cached = this.cache.get(hash);
    if (cached && cached.until > this.now()) return cached.principal;
    const result = await this.pool.query<{
      id: string;
      role: KeyRole;
      source_id: string | null;
      channel: Channel | null;
    }>(
      `SELECT id, role, source_id, channel FROM access.api_keys
        WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [hash],
    );
    const row = result.rows[0];
    const principal = row
      ? { keyId: row.id, role: row.role, sourceId: row.source_id, channel: row.channel }
      : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, until: this.now() + CACHE_TTL_MS });
    return principal;
  }
}
