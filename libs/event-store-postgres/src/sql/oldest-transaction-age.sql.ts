/**
 * Age of the oldest other transaction holding a transaction id: while it runs, readAll cannot
 * pass it, so this is how far behind subscribers can be held.
 */
export const oldestTransactionAgeSql = `
SELECT coalesce(extract(epoch FROM max(clock_timestamp() - xact_start)), 0)::float8 AS age
FROM pg_stat_activity
WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()`;
