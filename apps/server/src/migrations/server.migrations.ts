import type { MigrationSet } from '@touchline/platform';

/**
 * The server's own tables, beside the event store's. Forward-only, versioned; never edit an
 * applied migration (the runner refuses a changed checksum), add a new one.
 */
export const serverMigrations = [
  {
    version: 1,
    name: 'dead letters',
    sql: `
      CREATE SCHEMA IF NOT EXISTS ingest;
      -- Every rejected input, with its raw bytes and the reason, so it can be fixed and resubmitted.
      CREATE TABLE ingest.dead_letters (
        id            uuid PRIMARY KEY,
        received_at   timestamptz NOT NULL,
        recorded_at   timestamptz NOT NULL DEFAULT now(),
        source_id     text,
        endpoint      text NOT NULL,
        reason_code   text NOT NULL,
        reason        text NOT NULL,
        details       jsonb,
        raw_payload   bytea NOT NULL,
        raw_truncated boolean NOT NULL DEFAULT false,
        resubmitted_at timestamptz
      );
      CREATE INDEX dead_letters_received_at ON ingest.dead_letters (received_at);
    `,
  },
  {
    version: 2,
    name: 'api keys',
    sql: `
      CREATE SCHEMA IF NOT EXISTS access;
      -- Keys are stored as SHA-256 hashes; the key itself is shown once, when it is created.
      CREATE TABLE access.api_keys (
        id          uuid PRIMARY KEY,
        key_hash    text NOT NULL UNIQUE,
        role        text NOT NULL CHECK (role IN ('ingestion', 'analyst', 'admin')),
        source_id   text,
        channel     text CHECK (channel IN ('web', 'email', 'phone', 'other')),
        label       text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz,
        revoked_at  timestamptz,
        CHECK (role <> 'ingestion' OR (source_id IS NOT NULL AND channel IS NOT NULL))
      );
    `,
  },
  {
    version: 3,
    name: 'projection checkpoints and the activity read model',
    sql: `
      CREATE SCHEMA IF NOT EXISTS projections;
      -- Written in the same transaction as the read-model rows it covers.
      CREATE TABLE projections.checkpoints (
        projection      text PRIMARY KEY,
        version         integer NOT NULL,
        transaction_id  numeric(20) NOT NULL,
        position        bigint NOT NULL,
        updated_at      timestamptz NOT NULL DEFAULT now()
      );
      CREATE SCHEMA IF NOT EXISTS read_models;
      CREATE TABLE read_models.customer_activity (
        customer_key    text PRIMARY KEY,
        web_events      integer NOT NULL,
        email_events    integer NOT NULL,
        phone_events    integer NOT NULL,
        other_events    integer NOT NULL,
        total_events    integer NOT NULL,
        first_seen_at   timestamptz NOT NULL,
        last_seen_at    timestamptz NOT NULL,
        last_event_type text NOT NULL,
        last_channel    text NOT NULL,
        last_event_name text,
        last_event_id   text NOT NULL
      );
      COMMENT ON TABLE read_models.customer_activity IS
        'Touchpoints per customer key (user:<userId> or anon:<anonymousId>): counts per channel, first and last seen by event time, and the last contact.';
    `,
  },
  {
    version: 4,
    name: 'audit log and per-source rate limits',
    sql: `
      -- Append-only: the application role never updates or deletes rows (see docs/security.md).
      CREATE TABLE access.audit_log (
        id          bigserial PRIMARY KEY,
        at          timestamptz NOT NULL DEFAULT now(),
        actor_key_id uuid,
        action      text NOT NULL,
        target      text,
        outcome     text NOT NULL,
        details     jsonb
      );
      CREATE INDEX audit_log_at ON access.audit_log (at);
      CREATE FUNCTION access.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'access.audit_log is append-only';
      END $$;
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON access.audit_log
        FOR EACH ROW EXECUTE FUNCTION access.refuse_audit_change();
      ALTER TABLE access.api_keys ADD COLUMN rate_limit_per_second integer CHECK (rate_limit_per_second > 0);
    `,
  },
  {
    version: 5,
    name: 'web touchpoints and sessions',
    sql: `
      -- One row per web event: what sessions are derived from. Keyed by event id, so a replay or
      -- a redelivery writes the same row, and late events fall into place by event time.
      CREATE TABLE read_models.web_touchpoints (
        event_id      text PRIMARY KEY,
        customer_key  text NOT NULL,
        occurred_at   timestamptz NOT NULL,
        type          text NOT NULL,
        name          text,
        url           text,
        path          text,
        referrer      text,
        title         text,
        utm_source    text,
        utm_medium    text,
        utm_campaign  text,
        utm_term      text,
        utm_content   text
      );
      CREATE INDEX web_touchpoints_customer_time ON read_models.web_touchpoints (customer_key, occurred_at, event_id);

      -- Sessions: a gap of more than the timeout between two web events of a customer starts a
      -- new one. Computed from event time, so the result does not depend on arrival order.
      CREATE FUNCTION read_models.web_sessions_with_timeout(timeout interval)
      RETURNS TABLE (
        customer_key text, session_number bigint, started_at timestamptz, ended_at timestamptz,
        events bigint, landing_url text, landing_path text, referrer text,
        utm_source text, utm_medium text, utm_campaign text, utm_term text, utm_content text
      ) LANGUAGE sql STABLE AS $$
        WITH marked AS (
          SELECT t.*,
                 CASE WHEN lag(t.occurred_at) OVER w IS NULL
                        OR t.occurred_at - lag(t.occurred_at) OVER w > timeout THEN 1 ELSE 0 END AS starts
            FROM read_models.web_touchpoints t
          WINDOW w AS (PARTITION BY t.customer_key ORDER BY t.occurred_at, t.event_id)
        ), numbered AS (
          SELECT m.*, sum(m.starts) OVER (PARTITION BY m.customer_key ORDER BY m.occurred_at, m.event_id) AS n
            FROM marked m
        )
        SELECT customer_key, n, min(occurred_at), max(occurred_at), count(*),
               (array_agg(url ORDER BY occurred_at, event_id))[1],
               (array_agg(path ORDER BY occurred_at, event_id))[1],
               (array_agg(referrer ORDER BY occurred_at, event_id))[1],
               (array_agg(utm_source ORDER BY occurred_at, event_id))[1],
               (array_agg(utm_medium ORDER BY occurred_at, event_id))[1],
               (array_agg(utm_campaign ORDER BY occurred_at, event_id))[1],
               (array_agg(utm_term ORDER BY occurred_at, event_id))[1],
               (array_agg(utm_content ORDER BY occurred_at, event_id))[1]
          FROM numbered
         GROUP BY customer_key, n
      $$;
      CREATE VIEW read_models.web_sessions AS
        SELECT * FROM read_models.web_sessions_with_timeout(interval '30 minutes');
      COMMENT ON VIEW read_models.web_sessions IS
        'Web sessions (30 minutes of inactivity ends one) with landing page, referrer and UTM campaign of their first event.';
    `,
  },
  {
    version: 6,
    name: 'customer value: orders, refunds, flags, historical value, CLV fits and scores',
    sql: `
      -- One row per counted order, amounts exact (numeric) in the configured currency; the CLV
      -- summaries are computed from these rows.
      CREATE TABLE read_models.customer_orders (
        customer_key     text NOT NULL,
        order_id         text NOT NULL,
        event_id         text NOT NULL UNIQUE,
        occurred_at      timestamptz NOT NULL,
        currency         text NOT NULL,
        original_amount  numeric NOT NULL,
        base_amount      numeric NOT NULL,
        refunded_amount  numeric NOT NULL DEFAULT 0,
        PRIMARY KEY (customer_key, order_id)
      );
      CREATE INDEX customer_orders_occurred_at ON read_models.customer_orders (occurred_at);
      COMMENT ON TABLE read_models.customer_orders IS
        'Orders per customer key in the configured currency (base_amount), with the refunded part; original amount and currency kept.';

      -- Every refund; status pending until its order is known (then it is also flagged).
      CREATE TABLE read_models.customer_refunds (
        event_id         text PRIMARY KEY,
        customer_key     text NOT NULL,
        order_id         text NOT NULL,
        occurred_at      timestamptz NOT NULL,
        currency         text NOT NULL,
        original_amount  numeric,
        base_amount      numeric,
        status           text NOT NULL CHECK (status IN ('pending', 'applied')),
        applied_amount   numeric
      );
      CREATE INDEX customer_refunds_order ON read_models.customer_refunds (customer_key, order_id);

      -- What could not be counted, with the reason: never silently dropped.
      CREATE TABLE read_models.value_flags (
        event_id         text NOT NULL,
        reason_code      text NOT NULL,
        event_type       text NOT NULL,
        customer_key     text NOT NULL,
        order_id         text,
        occurred_at      timestamptz NOT NULL,
        currency         text,
        original_amount  numeric,
        reason           text NOT NULL,
        resolved_at      timestamptz,
        PRIMARY KEY (event_id, reason_code)
      );
      CREATE INDEX value_flags_customer ON read_models.value_flags (customer_key);
      COMMENT ON TABLE read_models.value_flags IS
        'Orders and refunds not (or not fully) counted, with the reason code; resolved_at is set when a pending refund found its order.';

      CREATE TABLE read_models.customer_value (
        customer_key        text PRIMARY KEY,
        currency            text NOT NULL,
        order_count         integer NOT NULL,
        gross_revenue       numeric NOT NULL,
        refunded            numeric NOT NULL,
        net_revenue         numeric NOT NULL,
        average_order_value numeric,
        first_order_at      timestamptz,
        last_order_at       timestamptz,
        open_flags          integer NOT NULL
      );
      CREATE INDEX customer_value_net_revenue ON read_models.customer_value (net_revenue DESC, customer_key);
      COMMENT ON TABLE read_models.customer_value IS
        'Historical value per customer key in one currency: net revenue (refunds subtracted), orders, average order value, first and last order, open flags.';

      CREATE SCHEMA IF NOT EXISTS models;
      -- Every CLV fit asked for, fitted or refused, with what is needed to reproduce it.
      CREATE TABLE models.clv_fits (
        id               uuid PRIMARY KEY,
        status           text NOT NULL CHECK (status IN ('fitted', 'refused')),
        fitted_at        timestamptz NOT NULL,
        calibration_end  date NOT NULL,
        config           jsonb NOT NULL,
        currency         text NOT NULL,
        customers        integer NOT NULL,
        orders           integer NOT NULL,
        bg_nbd           jsonb,
        gamma_gamma      jsonb,
        failure_model    text,
        failure_code     text,
        failure_message  text
      );
      CREATE INDEX clv_fits_latest ON models.clv_fits (fitted_at DESC) WHERE status = 'fitted';
      CREATE TABLE models.clv_scores (
        fit_id                      uuid NOT NULL REFERENCES models.clv_fits (id),
        customer_key                text NOT NULL,
        x                           integer NOT NULL,
        t_x                         double precision NOT NULL,
        t_cal                       double precision NOT NULL,
        zbar                        double precision NOT NULL,
        p_alive                     double precision NOT NULL,
        expected_purchases          double precision NOT NULL,
        expected_average_order_value double precision NOT NULL,
        clv                         double precision NOT NULL,
        PRIMARY KEY (fit_id, customer_key)
      );
      CREATE INDEX clv_scores_top ON models.clv_scores (fit_id, clv DESC, customer_key);
    `,
  },
  {
    version: 7,
    name: 'RFM scores and segments',
    sql: `
      -- RFM quintiles (1..5, 5 best) over customers with at least one order, always current
      -- because it is a view over customer_value. Ties share a score (rank, not row number), so
      -- the result does not depend on row order. Recency ranks last_order_at: the most recent
      -- fifth scores 5, whatever the date of the data.
      CREATE VIEW read_models.customer_rfm AS
      WITH buyers AS (
        SELECT customer_key, last_order_at, order_count, net_revenue
          FROM read_models.customer_value
         WHERE order_count > 0 AND last_order_at IS NOT NULL
      ), scored AS (
        SELECT b.*,
               1 + floor(5.0 * (rank() OVER (ORDER BY last_order_at) - 1) / count(*) OVER ())::int AS r,
               1 + floor(5.0 * (rank() OVER (ORDER BY order_count) - 1) / count(*) OVER ())::int AS f,
               1 + floor(5.0 * (rank() OVER (ORDER BY net_revenue) - 1) / count(*) OVER ())::int AS m
          FROM buyers b
      )
      SELECT customer_key, last_order_at, order_count, net_revenue,
             r AS recency_score, f AS frequency_score, m AS monetary_score,
             CASE
               WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'champions'
               WHEN r >= 3 AND f >= 4 THEN 'loyal'
               WHEN r >= 4 AND f = 1 THEN 'new'
               WHEN r >= 4 AND f BETWEEN 2 AND 3 THEN 'potential loyalist'
               WHEN r <= 2 AND f >= 3 THEN 'at risk'
               WHEN r = 1 AND f = 1 THEN 'lost'
               WHEN r <= 2 THEN 'hibernating'
               ELSE 'need attention'
             END AS segment
        FROM scored;
      COMMENT ON VIEW read_models.customer_rfm IS
        'RFM quintile scores (5 best) and named segments; rules in docs/customer-value.md.';
    `,
  },
  {
    version: 8,
    name: 'projector instances (parallel segments)',
    sql: `
      -- Every process running a projection split into segments says here that it is alive, about
      -- once a second; the live ones share the segments evenly (docs/operations.md, "Parallel
      -- projectors"). Ownership itself is an advisory lock, not this table.
      CREATE TABLE projections.projector_instances (
        instance_id  text NOT NULL,
        projection   text NOT NULL,
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (projection, instance_id)
      );
    `,
  },
] as const;

/** The server's tables as the migration runner takes them. */
export const serverMigrationSet: MigrationSet = { name: 'server', migrations: serverMigrations };
