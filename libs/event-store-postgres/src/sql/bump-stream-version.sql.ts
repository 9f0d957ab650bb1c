/**
 * Reserves $2 versions on the stream and returns its new last version; the previous one is
 * version - $2 (-1 when the row was just created). Rolled back with the append on a conflict.
 */
export const bumpStreamVersionSql = `
INSERT INTO event_store.streams AS s (stream_id, version)
VALUES ($1, $2::bigint - 1)
ON CONFLICT (stream_id) DO UPDATE SET version = s.version + $2::bigint
RETURNING version`;
