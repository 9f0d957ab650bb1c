/** Inserts one stream's events after version $2, keeping their order in global positions. */
export const appendEventsSql = `
INSERT INTO event_store.events
  (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
SELECT $1, $2::bigint + e.ord, e.event_id, e.event_type, e.schema_version, e.data::jsonb, e.metadata::jsonb
FROM unnest($3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
  WITH ORDINALITY AS e(event_id, event_type, schema_version, data, metadata, ord)
ORDER BY e.ord`;
