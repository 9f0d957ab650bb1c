import type { Migration } from '@touchline/platform';

/**
 * Events are ordered by (transaction_id, global_position): global_position alone can be
 * overtaken by a transaction that took a lower number and committed later. Readers only read
 * below the oldest running transaction (pg_snapshot_xmin), so nothing is ever skipped.
 */
export const createEventStoreMigration: Migration = {
  version: 1,
  name: 'create event store',
  sql: `
CREATE SCHEMA IF NOT EXISTS event_store;

-- One row per stream that has events: its last version. Appends bump it with an UPSERT.
CREATE TABLE event_store.streams (
  stream_id text   PRIMARY KEY,
  version   bigint NOT NULL
);

-- The primary key is the global order itself: readAll walks it, and ingest maintains one index
-- fewer than with a separate key on global_position.
CREATE TABLE event_store.events (
  global_position bigserial   NOT NULL,
  transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  stream_id       text        NOT NULL,
  stream_version  bigint      NOT NULL,
  event_id        text        NOT NULL,
  event_type      text        NOT NULL,
  schema_version  integer     NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}',
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_pkey PRIMARY KEY (transaction_id, global_position),
  CONSTRAINT events_event_id_unique UNIQUE (event_id),
  CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);
`,
};
