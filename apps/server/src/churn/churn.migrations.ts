import type { MigrationSet } from '@touchline/platform';

/**
 * Churn flags, a migration set of its own. These tables are written by churn evaluations (on
 * demand or on a schedule), not by the projector: a projection rebuild leaves them alone, and the
 * history cannot be rebuilt from events (it records what each evaluation said, with its
 * configuration). Forward-only; never edit an applied migration.
 */
export const churnMigrationSet: MigrationSet = {
  name: 'churn',
  migrations: [
    {
      version: 1,
      name: 'churn evaluations, current flags, flag history',
      sql: `
        CREATE SCHEMA IF NOT EXISTS read_models;

        -- Every evaluation run: as of when, with which settings and model, how far it got.
        CREATE TABLE read_models.churn_evaluations (
          id                uuid PRIMARY KEY,
          as_of             timestamptz NOT NULL,
          trigger           text NOT NULL CHECK (trigger IN ('api', 'schedule')),
          requested_by      uuid,
          status            text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),
          started_at        timestamptz NOT NULL,
          heartbeat_at      timestamptz NOT NULL,
          finished_at       timestamptz,
          config            jsonb NOT NULL,
          model             jsonb NOT NULL,
          customers_total   integer NOT NULL,
          customers_done    integer NOT NULL DEFAULT 0,
          raised            integer NOT NULL DEFAULT 0,
          cleared           integer NOT NULL DEFAULT 0,
          flagged           integer,
          error_message     text
        );
        CREATE INDEX churn_evaluations_latest ON read_models.churn_evaluations (started_at DESC);
        COMMENT ON TABLE read_models.churn_evaluations IS
          'Churn evaluation runs: as-of time, settings, model used, progress and outcome (docs/churn.md)';

        -- The current flags: one row per customer at risk, as the latest evaluation left it.
        CREATE TABLE read_models.churn_flags (
          customer_id    text PRIMARY KEY,
          reason_codes   text[] NOT NULL CHECK (cardinality(reason_codes) > 0),
          reasons        jsonb NOT NULL,
          risk           double precision NOT NULL CHECK (risk >= 0 AND risk <= 1),
          since          timestamptz NOT NULL,
          as_of          timestamptz NOT NULL,
          evaluation_id  uuid NOT NULL
        );
        CREATE INDEX churn_flags_risk ON read_models.churn_flags (risk DESC, customer_id DESC);
        CREATE INDEX churn_flags_since ON read_models.churn_flags (since, customer_id);
        CREATE INDEX churn_flags_reasons ON read_models.churn_flags USING gin (reason_codes);
        COMMENT ON TABLE read_models.churn_flags IS
          'Customers at risk of leaving now: reason codes, reasons with figures (jsonb keyed by code), risk 0..1, flagged since';

        -- The history: a row whenever a reason starts or stops holding for a customer. Append-only.
        CREATE TABLE read_models.churn_flag_events (
          id             bigserial PRIMARY KEY,
          event_type     text NOT NULL CHECK (event_type IN ('ChurnFlagRaised', 'ChurnFlagCleared')),
          customer_id    text NOT NULL,
          reason_codes   text[] NOT NULL,
          details        jsonb NOT NULL,
          risk           double precision,
          as_of          timestamptz NOT NULL,
          evaluated_at   timestamptz NOT NULL,
          evaluation_id  uuid NOT NULL
        );
        CREATE INDEX churn_flag_events_customer ON read_models.churn_flag_events (customer_id, id);
        CREATE INDEX churn_flag_events_as_of ON read_models.churn_flag_events (as_of);
        COMMENT ON TABLE read_models.churn_flag_events IS
          'Churn risk history: ChurnFlagRaised / ChurnFlagCleared per customer and reason codes, with the evaluation as-of time';
        CREATE FUNCTION read_models.refuse_churn_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'read_models.churn_flag_events is append-only';
        END $$;
        CREATE TRIGGER churn_flag_events_append_only BEFORE UPDATE OR DELETE ON read_models.churn_flag_events
          FOR EACH ROW EXECUTE FUNCTION read_models.refuse_churn_history_change();
      `,
    },
  ],
};
