import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import { normalizeEmail, normalizePhoneE164 } from '@touchline/touchpoints';
import type { Pool } from 'pg';

/** The identifier kinds a suppression can name: the identity graph's kinds (docs/identity.md). */
export const SUPPRESSION_IDENTIFIER_TYPES = [
  'email',
  'phone',
  'userId',
  'anonymousId',
  'externalId',
] as const;
export type SuppressionIdentifierType = (typeof SUPPRESSION_IDENTIFIER_TYPES)[number];

const MAX_VALUE_LENGTH = 512;

/**
 * The canonical identifier (`email:ada@example.com`, `externalId:crm:42`) of a value, normalized
 * as the edge and the identity graph do, so a suppression matches however the address was typed.
 * Messages never repeat the value.
 */
export function canonicalSuppressedIdentifier(
  type: SuppressionIdentifierType,
  value: string,
): { ok: true; canonical: string } | { ok: false; message: string } {
  if (value.trim().length === 0 || value.length > MAX_VALUE_LENGTH) {
    return { ok: false, message: `value must be 1 to ${MAX_VALUE_LENGTH} characters` };
  }
  if (type === 'email') {
    const email = normalizeEmail(value);
    return email.ok
      ? { ok: true, canonical: `email:${email.value}` }
      : { ok: false, message: 'value is not an email address' };
  }
  if (type === 'phone') {
    const phone = normalizePhoneE164(value);
    return phone.ok
      ? { ok: true, canonical: `phone:${phone.value}` }
      : { ok: false, message: 'value is not an E.164 phone number (+ and country code)' };
  }
  if (type === 'externalId' && !/^[^:]+:.+$/.test(value)) {
    return { ok: false, message: 'value must be <system>:<id> for an externalId, e.g. crm:42' };
  }
  return { ok: true, canonical: `${type}:${value}` };
}

/** HKDF label of the suppression secret: changing it would unmatch every stored suppression. */
const SUPPRESSION_SECRET_LABEL = 'touchline/suppression-secret/v1';

/**
 * Keyed hash of canonical identifiers (HMAC-SHA256), so the suppression list holds no identifier
 * in clear and a copy of the table cannot be checked against a list of addresses without the
 * secret. The secret is derived from the master key (TOUCHLINE_MASTER_KEY) with HKDF.
 */
export class IdentifierHasher {
  /** Tells secrets apart without revealing them: rows made with another secret cannot match. */
  readonly secretId: string;

  constructor(private readonly secret: Buffer) {
    this.secretId = createHmac('sha256', secret)
      .update('touchline/suppression-secret-id')
      .digest('hex')
      .slice(0, 16);
  }

  static fromMasterKey(masterKey: Buffer): IdentifierHasher {
    return new IdentifierHasher(
      Buffer.from(hkdfSync('sha256', masterKey, 'touchline', SUPPRESSION_SECRET_LABEL, 32)),
    );
  }

  hash(canonical: string): string {
    return createHmac('sha256', this.secret).update(canonical, 'utf8').digest('hex');
  }
}

export interface Suppression {
  readonly id: string;
  readonly identifierType: string;
  readonly reason: string;
  readonly createdAt: Date;
  readonly createdBy: string | null;
  /** False when the row was made with another secret: it no longer matches anything. */
  readonly active: boolean;
}

interface SuppressionRow {
  id: string;
  identifier_type: string;
  reason: string;
  created_at: Date;
  created_by: string | null;
  secret_id: string;
}

/** What the recorder needs: which of these canonical identifiers are suppressed. */
export interface SuppressionCheck {
  suppressedAmong(canonicals: readonly string[]): Promise<ReadonlySet<string>>;
}

/**
 * The suppression list in privacy.suppressions. Read on every recorder batch (one indexed query),
 * so adding or lifting a suppression takes effect for the next batch in every process.
 */
export class SuppressionList implements SuppressionCheck {
  constructor(
    private readonly pool: Pool,
    private readonly hasher: IdentifierHasher,
  ) {}

  async add(input: {
    canonical: string;
    type: SuppressionIdentifierType;
    reason: string;
    createdBy: string | null;
  }): Promise<{ created: boolean; suppression: Suppression }> {
    const hash = this.hasher.hash(input.canonical);
    const inserted = await this.pool.query<SuppressionRow>(
      `INSERT INTO privacy.suppressions
         (id, identifier_hash, identifier_type, reason, secret_id, created_by)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (identifier_hash) DO NOTHING
       RETURNING id, identifier_type, reason, created_at, created_by, secret_id`,
      [randomUUID(), hash, input.type, input.reason, this.hasher.secretId, input.createdBy],
    );
    if (inserted.rows[0]) return { created: true, suppression: this.dto(inserted.rows[0]) };
    const existing = await this.pool.query<SuppressionRow>(
      `SELECT id, identifier_type, reason, created_at, created_by, secret_id
         FROM privacy.suppressions WHERE identifier_hash = $1`,
      [hash],
    );
    return { created: false, suppression: this.dto(existing.rows[0]!) };
  }

  /** False when there is no suppression with this id. */
  async lift(id: string): Promise<boolean> {
    const deleted = await this.pool.query('DELETE FROM privacy.suppressions WHERE id = $1', [id]);
    return (deleted.rowCount ?? 0) > 0;
  }

  /** Newest first. */
  async list(limit: number): Promise<Suppression[]> {
    const { rows } = await this.pool.query<SuppressionRow>(
      `SELECT id, identifier_type, reason, created_at, created_by, secret_id
         FROM privacy.suppressions ORDER BY created_at DESC, id LIMIT $1`,
      [limit],
    );
    return rows.map((row) => this.dto(row));
  }

  async suppressedAmong(canonicals: readonly string[]): Promise<ReadonlySet<string>> {
    if (canonicals.length === 0) return new Set();
    const byHash = new Map(canonicals.map((c) => [this.hasher.hash(c), c]));
    const { rows } = await this.pool.query<{ identifier_hash: string }>(
      'SELECT identifier_hash FROM privacy.suppressions WHERE identifier_hash = ANY($1::text[])',
      [[...byHash.keys()]],
    );
    return new Set(rows.map((row) => byHash.get(row.identifier_hash)!));
  }

  private dto(row: SuppressionRow): Suppression {
    return {
      id: row.id,
      identifierType: row.identifier_type,
      reason: row.reason,
      createdAt: row.created_at,
      createdBy: row.created_by,
      active: row.secret_id === this.hasher.secretId,
    };
  }
}
