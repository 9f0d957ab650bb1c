/**
 * Transaction-scoped advisory locks on the streams, taken before the first write. Taking no
 * transaction id while waiting means a stream's later writer always gets the higher id, so the
 * global order (transaction_id, global_position) keeps each stream's versions in order.
 * Sorted, so ingests of overlapping streams cannot deadlock on each other.
 */
export const lockStreamSql = `SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))`;

export const lockStreamsSql = `
SELECT pg_advisory_xact_lock(key)
FROM (SELECT DISTINCT hashtextextended(stream_id, 0) AS key FROM unnest($1::text[]) AS stream_id) AS keys
ORDER BY key`;
