import type { Pool } from 'pg';
import { type DataKey, newDataKey, openValue, sealValue } from './field-cipher';

/**
 * Where the per-subject data keys live, apart from the events they protect. A KMS-backed store
 * can replace the PostgreSQL one: this is the whole interface.
 */
export interface SubjectKeyStore {
  /**
   * The key of each subject; with `create`, subjects without a live key get a new one (also after
   * an erasure: what is sealed from then on is new data). Without `create`, missing is null.
   */
  keysFor(subjects: readonly string[], create: boolean): Promise<Map<string, DataKey | null>>;
  /** Destroys the keys for good; answers how many live keys there were. */
  destroy(subjects: readonly string[]): Promise<number>;
}

/**
 * Keys in `privacy.subject_keys`, each wrapped (AES-256-GCM) with the master key, so a copy of
 * the database alone opens nothing. Destroying a key clears it and keeps the row as the record
 * that the subject was erased.
 */
export class PostgresSubjectKeyStore implements SubjectKeyStore {
  constructor(
    private readonly pool: Pool,
    /** The key-wrapping key derived from the master key (master-key.ts). */
    private readonly masterKey: Buffer,
  ) {}

  async keysFor(
    subjects: readonly string[],
    create: boolean,
  ): Promise<Map<string, DataKey | null>> {
    const unique = [...new Set(subjects)];
    const keys = new Map<string, DataKey | null>(unique.map((s) => [s, null]));
    if (unique.length === 0) return keys;
    const read = async () => {
      const rows = await this.pool.query<{ subject: string; wrapped_key: string | null }>(
        'SELECT subject, wrapped_key FROM privacy.subject_keys WHERE subject = ANY($1::text[])',
        [unique],
      );
      for (const row of rows.rows) {
        keys.set(row.subject, row.wrapped_key === null ? null : this.unwrap(row));
      }
    };
    await read();
    if (!create) return keys;
    const missing = unique.filter((subject) => keys.get(subject) === null);
    if (missing.length === 0) return keys;
    const fresh = missing.map((subject) => ({ subject, wrapped: this.wrap(subject) }));
    // Two writers may race for one subject: the first key stored wins, and both read it back.
    await this.pool.query(
      `INSERT INTO privacy.subject_keys (subject, wrapped_key)
       SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (subject) DO UPDATE SET wrapped_key = excluded.wrapped_key, created_at = now()
         WHERE privacy.subject_keys.wrapped_key IS NULL`,
      [fresh.map((f) => f.subject), fresh.map((f) => f.wrapped)],
    );
    await read();
    return keys;
  }

  async destroy(subjects: readonly string[]): Promise<number> {
    const result = await this.pool.query(
      `UPDATE privacy.subject_keys SET wrapped_key = NULL, erased_at = now()
        WHERE subject = ANY($1::text[]) AND wrapped_key IS NOT NULL`,
      [[...new Set(subjects)]],
    );
    return result.rowCount ?? 0;
  }

  private wrap(subject: string): string {
    return sealValue(newDataKey().toString('base64'), this.masterKey, subject);
  }

  private unwrap(row: { subject: string; wrapped_key: string | null }): DataKey | null {
    const opened =
      row.wrapped_key === null ? null : openValue(row.wrapped_key, this.masterKey, row.subject);
    if (typeof opened !== 'string') {
      throw new Error(
        'A data key cannot be unwrapped: the master key (TOUCHLINE_MASTER_KEY) is not the one the keys were made with',
      );
    }
    return Buffer.from(opened, 'base64');
  }
}
