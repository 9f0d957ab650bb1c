import type { Pool } from 'pg';
import type { DeadLetter } from './dead-letter';

/** PostgreSQL text and jsonb cannot hold NUL: a dead letter must be storable whatever it says. */
function storableText(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD');
}

function storableJson(value: unknown): string | null {
  if (value === undefined) return null;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? storableText(v) : v));
}

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
        letters.map((l) => (l.sourceId === null ? null : storableText(l.sourceId))),
        letters.map((l) => storableText(l.endpoint)),
        letters.map((l) => storableText(l.reasonCode)),
        letters.map((l) => storableText(l.reason)),
        letters.map((l) => storableJson(l.details)),
        letters.map((l) => Buffer.from(l.rawBase64, 'base64')),
        letters.map((l) => l.rawTruncated),
      ],
    );
  }

  async list(options: {
    limit: number;
    before?: string;
  }): Promise<{ items: StoredDeadLetterSummary[]; next: string | null }> {
    const cursor = options.before ? decodeCursor(options.before) : null;
    const result = await this.pool.query<DeadLetterRow>(
      `SELECT id, received_at, recorded_at, source_id, endpoint, reason_code, reason, details, raw_truncated,
              resubmitted_at, length(raw_payload) AS raw_bytes
         FROM ingest.dead_letters
        WHERE ($1::timestamptz IS NULL OR (received_at, id) < ($1::timestamptz, $2::uuid))
        ORDER BY received_at DESC, id DESC
        LIMIT $3`,
      [cursor?.receivedAt ?? null, cursor?.id ?? null, options.limit + 1],
    );
    const rows = result.rows.slice(0, options.limit);
    const last = rows[rows.length - 1];
    return {
      items: rows.map(summaryOf),
      next:
        result.rows.length > options.limit && last ? encodeCursor(last.received_at, last.id) : null,
    };
  }

  async get(id: string): Promise<(StoredDeadLetterSummary & { raw: Buffer }) | null> {
    const result = await this.pool.query<DeadLetterRow & { raw_payload: Buffer }>(
      `SELECT id, received_at, recorded_at, source_id, endpoint, reason_code, reason, details, raw_truncated,
              resubmitted_at, length(raw_payload) AS raw_bytes, raw_payload
         FROM ingest.dead_letters WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    return row ? { ...summaryOf(row), raw: row.raw_payload } : null;
  }

  async markResubmitted(id: string): Promise<void> {
    await this.pool.query('UPDATE ingest.dead_letters SET resubmitted_at = now() WHERE id = $1', [
      id,
    ]);
  }
}

export interface StoredDeadLetterSummary {
  readonly id: string;
  readonly receivedAt: string;
  readonly recordedAt: string;
  readonly sourceId: string | null;
  readonly endpoint: string;
  readonly reasonCode: string;
  readonly reason: string;
  readonly details: unknown;
  readonly rawBytes: number;
  readonly rawTruncated: boolean;
  readonly resubmittedAt: string | null;
}

interface DeadLetterRow {
  id: string;
  received_at: Date;
  recorded_at: Date;
  source_id: string | null;
  endpoint: string;
  reason_code: string;
  reason: string;
  details: unknown;
  raw_truncated: boolean;
  resubmitted_at: Date | null;
  raw_bytes: number;
}

function summaryOf(row: DeadLetterRow): StoredDeadLetterSummary {
  return {
    id: row.id,
    receivedAt: row.received_at.toISOString(),
    recordedAt: row.recorded_at.toISOString(),
    sourceId: row.source_id,
    endpoint: row.endpoint,
    reasonCode: row.reason_code,
    reason: row.reason,
    details: row.details,
    rawBytes: Number(row.raw_bytes),
    rawTruncated: row.raw_truncated,
    resubmittedAt: row.resubmitted_at?.toISOString() ?? null,
  };
}

function encodeCursor(receivedAt: Date, id: string): string {
  return Buffer.from(`${receivedAt.toISOString()}|${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { receivedAt: string; id: string } | null {
  const [receivedAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!receivedAt || !id || Number.isNaN(Date.parse(receivedAt)) || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new InvalidCursorError();
  }
  return { receivedAt, id };
}

export class InvalidCursorError extends Error {
  constructor() {
    super('before must be a cursor returned by an earlier page');
  }
}
