const eventColumns = `
  global_position, transaction_id::text AS transaction_id_text, stream_id, stream_version, event_id,
  event_type, schema_version, data, metadata, recorded_at`;

export const readStreamSql = `
SELECT ${eventColumns}
FROM event_store.events
WHERE stream_id = $1 AND stream_version >= $2
ORDER BY stream_version
LIMIT $3`;

/**
 * The global log after a checkpoint, only below the oldest transaction still running: one that
 * took a lower position may still commit, and a reader must not pass it.
 */
export const readAllSql = `
SELECT ${eventColumns}
FROM event_store.events
WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, global_position
LIMIT $3`;

export const readHeadSql = `
SELECT transaction_id::text AS transaction_id_text, global_position
FROM event_store.events
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id DESC, global_position DESC
LIMIT 1`;

// Selected under another name: ORDER BY transaction_id would otherwise sort by the text
// output column, and '1000' < '999'.
export interface EventRow {
  readonly global_position: string;
  readonly transaction_id_text: string;
  readonly stream_id: string;
  readonly stream_version: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly schema_version: number;
  readonly data: Record<string, unknown>;
  readonly metadata: Record<string, unknown>;
  readonly recorded_at: Date;
}

export interface HeadRow {
  readonly transaction_id_text: string;
  readonly global_position: string;
}
