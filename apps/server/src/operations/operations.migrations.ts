import type { MigrationSet } from '@touchline/platform';

/**
 * The operations feature's own tables, a migration set of its own so it evolves without
 * touching the server's numbering. Forward-only; never edit an applied migration.
 */
export const operationsMigrationSet: MigrationSet = {
  name: 'operations',
  migrations: [
    {
      version: 1,
      name: 'projection rebuilds',
      sql: `
        CREATE SCHEMA IF NOT EXISTS projections;
        -- One row per rebuild asked for. A running row with a fresh heartbeat is also the signal
        -- that makes the live projector of that projection step aside (see docs/operations.md).
        CREATE TABLE projections.rebuilds (
          id                uuid PRIMARY KEY,
          projection        text NOT NULL,
          version           integer NOT NULL,
          status            text NOT NULL CHECK (status IN ('running', 'completed', 'cancelled', 'failed', 'interrupted')),
          mode              text NOT NULL CHECK (mode IN ('rebuild', 'resume')),
          requested_by      uuid,
          requested_at      timestamptz NOT NULL DEFAULT now(),
          started_at        timestamptz,
          heartbeat_at      timestamptz NOT NULL DEFAULT now(),
          finished_at       timestamptz,
          target_position   bigint,
          target_events     bigint,
          events_applied    bigint NOT NULL DEFAULT 0,
          cancel_requested  boolean NOT NULL DEFAULT false,
          error_code        text,
          error_message     text
        );
        -- At most one running rebuild per projection: the second one is refused by this index.
        CREATE UNIQUE INDEX rebuilds_one_running ON projections.rebuilds (projection) WHERE status = 'running';
        CREATE INDEX rebuilds_latest ON projections.rebuilds (projection, requested_at DESC);
      `,
    },
    {
      version: 2,
      name: 'republish jobs',
      sql: `
        -- One row per republish job (stored history to a Kafka topic, see docs/operations.md).
        -- The name is the job's id: a resume continues the row from its checkpoint.
        CREATE TABLE projections.republish_jobs (
          name                  text PRIMARY KEY,
          topic                 text NOT NULL,
          status                text NOT NULL CHECK (status IN ('running', 'completed', 'cancelled', 'failed', 'interrupted')),
          -- The range, resolved once at the start: events after "start" up to "target" inclusive.
          start_transaction_id  xid8 NOT NULL,
          start_position        bigint NOT NULL,
          target_transaction_id xid8 NOT NULL,
          target_position       bigint NOT NULL,
          first_position        bigint,
          event_types           text[],
          rate_limit            integer,
          target_events         bigint NOT NULL,
          -- Everything up to here is acknowledged by Kafka.
          checkpoint_transaction_id xid8 NOT NULL,
          checkpoint_position   bigint NOT NULL,
          events_published      bigint NOT NULL DEFAULT 0,
          runs                  integer NOT NULL DEFAULT 1,
          run_started_at        timestamptz NOT NULL DEFAULT now(),
          run_events_published  bigint NOT NULL DEFAULT 0,
          requested_by          uuid,
          requested_at          timestamptz NOT NULL DEFAULT now(),
          heartbeat_at          timestamptz NOT NULL DEFAULT now(),
          finished_at           timestamptz,
          cancel_requested      boolean NOT NULL DEFAULT false,
          error_code            text,
          error_message         text
        );
      `,
    },
    {
      version: 3,
      name: 'resets, blue/green rebuilds, dry runs, rollback',
      sql: `
        -- A blue/green rebuild builds into read_models_next while the live tables keep serving;
        -- only while it switches (switching = true) do the live projectors step aside.
        ALTER TABLE projections.rebuilds DROP CONSTRAINT IF EXISTS rebuilds_mode_check;
        ALTER TABLE projections.rebuilds ADD CONSTRAINT rebuilds_mode_check
          CHECK (mode IN ('rebuild', 'resume', 'reset', 'blue-green', 'dry-run', 'rollback'));
        ALTER TABLE projections.rebuilds ADD COLUMN switching boolean NOT NULL DEFAULT false;
        -- A dry run's comparison with the live read model, per table.
        ALTER TABLE projections.rebuilds ADD COLUMN diff jsonb;
        -- The version replaced by the last switch, kept in read_models_previous for rollback.
        CREATE TABLE projections.previous_versions (
          projection     text PRIMARY KEY,
          version        integer NOT NULL,
          transaction_id numeric(20) NOT NULL,
          "position"     bigint NOT NULL,
          tables         text[] NOT NULL,
          replaced_at    timestamptz NOT NULL DEFAULT now()
        );
      `,
    },
    {
      version: 4,
      name: 'indexes a rebuild builds after its replay; the phase a rebuild is in',
      sql: `
        -- The indexes an in-place rebuild dropped after emptying the tables, with what builds
        -- each again; null once they are back. Kept here so that a rebuild whose process died
        -- has them rebuilt by the next one that looks (docs/operations.md).
        ALTER TABLE projections.rebuilds ADD COLUMN set_aside_indexes jsonb;
        -- What a running rebuild is doing once its events are replayed (building those
        -- indexes, say), so its progress does not read as stuck at 100%.
        ALTER TABLE projections.rebuilds ADD COLUMN phase text;
      `,
    },
  ],
};
