import type { Pool } from 'pg';
import type { DeadLetter } from './dead-letter';

/** The dead-letter table. Inserts are idempotent by id: a redelivered message is stored once. */
export class DeadLetterStore {
  constructor(private readonly pool: Pool) {}

  async save(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.pool.query(
      `INSERT INTO ingest.dead_letters
         (id, received_at, source_id, endpoint, reason_code, reason, details, raw_payload, raw_truncated)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::jsonb[], $8::bytea[], $9::boolean[])
       ON CONFLICT (id) DO NOTHING`,
      [
        letters.map((l) => l.id),
        letters.map((l) => l.receivedAt),
        letters.map((l) => l.sourceId),
        letters.map((l) => l.endpoint),
        letters.map((l) => l.reasonCode),
        letters.map((l) => l.reason),
        letters.map((l) => (l.details === undefined ? null : JSON.stringify(l.details))),
        letters.map((l) => Buffer.from(l.rawBase64, 'base64')),
        letters.map((l) => l.rawTruncated),
      ],
    );
  }

  async list(
    limit: number,
  ): Promise<
    Array<{ id: string; reasonCode: string; reason: string; endpoint: string; raw: Buffer }>
  > {
    const result = await this.pool.query<{
      id: string;
      reason_code: string;
      reason: string;
      endpoint: string;
      raw_payload: Buffer;
    }>(
      `SELECT id, reason_code, reason, endpoint, raw_payload FROM ingest.dead_letters ORDER BY received_at DESC LIMIT $1`,
      [limit],
    );
    return result.rows.map((r) => ({
      id: r.id,
      reasonCode: r.reason_code,
      reason: r.reason,
      endpoint: r.endpoint,
      raw: r.raw_payload,
    }));
  }
}
