/**
 * One statement for a whole ingest batch: drop ids already stored, number the rest per stream
 * after the stream's current version (bumped in the streams table), insert them in input order.
 * Returns how many rows it stored.
 */
export const ingestEventsSql = `
WITH input AS (
  SELECT *
  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[])
    WITH ORDINALITY AS i(stream_id, event_id, event_type, schema_version, data, metadata, ord)
),
fresh AS (
  SELECT i.*,
         row_number() OVER (PARTITION BY i.stream_id ORDER BY i.ord) AS n,
         count(*) OVER (PARTITION BY i.stream_id) AS added
  FROM input i
  WHERE NOT EXISTS (SELECT 1 FROM event_store.events e WHERE e.event_id = i.event_id)
),
bumped AS (
  INSERT INTO event_store.streams AS s (stream_id, version)
  SELECT DISTINCT ON (stream_id) stream_id, added - 1 FROM fresh ORDER BY stream_id
  ON CONFLICT (stream_id) DO UPDATE SET version = s.version + excluded.version + 1
  RETURNING s.stream_id, s.version
),
inserted AS (
  INSERT INTO event_store.events
    (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
  SELECT f.stream_id, b.version - f.added + f.n, f.event_id, f.event_type, f.schema_version,
         f.data::jsonb, f.metadata::jsonb
  FROM fresh f
  JOIN bumped b ON b.stream_id = f.stream_id
  ORDER BY f.ord
  RETURNING 1
)
SELECT count(*)::int AS stored FROM inserted`;
