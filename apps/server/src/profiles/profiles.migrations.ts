import type { MigrationSet } from '@touchline/platform';

/**
 * The unified customer profile's tables (identity graph, per-identifier facts, profiles,
 * timeline), a migration set of its own. Everything here is a read model written only by the
 * customer_profiles projection; a rebuild empties and refills it. Forward-only.
 */
export const profilesMigrationSet: MigrationSet = {
  name: 'profiles',
  migrations: [
    {
      version: 1,
      name: 'identity graph, identifier facts, customer profiles, timeline',
      sql: `
        CREATE SCHEMA IF NOT EXISTS read_models;

        -- The identity graph's input: every stored event that saw identifiers, blocked ones
        -- included (blocking is a rule, and rules change). The projection rebuilds its in-memory
        -- graph from these rows after a restart.
        CREATE TABLE read_models.identity_observations (
          event_id    text PRIMARY KEY,
          occurred_at timestamptz NOT NULL,
          source      text NOT NULL,
          identifiers text[] NOT NULL
        );

        -- One row: how many batches the projection applied, so a process knows whether its
        -- in-memory graph matches the tables (another process or a rebuild may have written).
        CREATE TABLE read_models.identity_generation (
          singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
          generation bigint NOT NULL
        );

        CREATE TABLE read_models.customer_identifiers (
          identifier  text PRIMARY KEY,
          kind        text NOT NULL,
          customer_id text NOT NULL
        );
        CREATE INDEX customer_identifiers_customer ON read_models.customer_identifiers (customer_id);
        COMMENT ON TABLE read_models.customer_identifiers IS
          'Identity resolution: every known identifier (<kind>:<value>) and the customer it belongs to';

        -- Why identifiers are one customer, or why they are not: every accepted and refused link
        -- with the event that was its evidence.
        CREATE TABLE read_models.identity_links (
          link_id               text NOT NULL,
          event_id              text NOT NULL,
          status                text NOT NULL CHECK (status IN ('accepted', 'refused')),
          identifier_a          text NOT NULL,
          identifier_b          text NOT NULL,
          occurred_at           timestamptz NOT NULL,
          source                text NOT NULL,
          evidence_identifiers  text[] NOT NULL,
          reason_code           text,
          reason                text,
          PRIMARY KEY (link_id, event_id, status)
        );
        CREATE INDEX identity_links_a ON read_models.identity_links (identifier_a);
        CREATE INDEX identity_links_b ON read_models.identity_links (identifier_b);

        -- Facts per identifier (the anchor each event is attributed to). Commutative by design:
        -- counts add, first/last seen are min/max, last contact and traits are last-writer-wins by
        -- event time then event id, so any arrival order gives the same rows.
        CREATE TABLE read_models.identifier_facts (
          identifier            text PRIMARY KEY,
          web_events            integer NOT NULL DEFAULT 0,
          email_events          integer NOT NULL DEFAULT 0,
          phone_events          integer NOT NULL DEFAULT 0,
          other_events          integer NOT NULL DEFAULT 0,
          first_seen_at         timestamptz,
          last_seen_at          timestamptz,
          last_contact_at       timestamptz,
          last_contact_event_id text,
          last_contact_channel  text,
          last_contact_type     text,
          last_contact_summary  text,
          traits                jsonb NOT NULL DEFAULT '{}',
          orders                integer NOT NULL DEFAULT 0,
          net_revenue           numeric NOT NULL DEFAULT 0
        );

        -- Last writer wins per trait, by event time then event id: {"plan": {"value": "pro",
        -- "at": "2026-01-02T03:04:05.000Z", "eventId": "..."}}. Commutative, so arrival order
        -- does not matter. ISO-8601 UTC strings of one format sort as the times they name.
        CREATE FUNCTION read_models.merge_traits(a jsonb, b jsonb) RETURNS jsonb
          LANGUAGE sql IMMUTABLE AS $$
            SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb) FROM (
              SELECT DISTINCT ON (key) key, value
                FROM (SELECT * FROM jsonb_each(a) UNION ALL SELECT * FROM jsonb_each(b)) traits
               ORDER BY key, value->>'at' DESC, value->>'eventId' DESC) winners
          $$;

        CREATE TABLE read_models.customer_profiles (
          customer_id           text PRIMARY KEY,
          identifiers           text[] NOT NULL,
          traits                jsonb NOT NULL,
          first_seen_at         timestamptz,
          last_seen_at          timestamptz,
          web_events            integer NOT NULL,
          email_events          integer NOT NULL,
          phone_events          integer NOT NULL,
          other_events          integer NOT NULL,
          total_events          integer NOT NULL,
          last_contact_at       timestamptz,
          last_contact_channel  text,
          last_contact_type     text,
          last_contact_summary  text,
          orders                integer NOT NULL,
          net_revenue           numeric NOT NULL,
          currency              text NOT NULL,
          consent               jsonb
        );
        CREATE INDEX customer_profiles_last_seen ON read_models.customer_profiles (last_seen_at, customer_id);
        COMMENT ON TABLE read_models.customer_profiles IS
          'The unified customer profile: one row per resolved customer, across every identifier and channel';

        -- The timeline: every touchpoint, under the identifier it is attributed to.
        CREATE TABLE read_models.customer_touchpoints (
          event_id    text PRIMARY KEY,
          identifier  text NOT NULL,
          occurred_at timestamptz NOT NULL,
          channel     text NOT NULL,
          type        text NOT NULL,
          summary     text
        );
        CREATE INDEX customer_touchpoints_timeline
          ON read_models.customer_touchpoints (identifier, occurred_at, event_id);
      `,
    },
    {
      version: 2,
      name: 'profile search by trait',
      sql: `
        -- trait.<name>=<value> filters are jsonb containment: this index answers them.
        CREATE INDEX customer_profiles_traits ON read_models.customer_profiles USING gin (traits jsonb_path_ops);
      `,
    },
    {
      version: 3,
      name: 'identity revocations, consent per identifier',
      sql: `
        -- Merges an admin undid: an input of the identity graph like the rules, not a read model,
        -- so a rebuild keeps them (it empties only the projection's own tables). Append-only.
        CREATE SCHEMA IF NOT EXISTS identity;
        CREATE TABLE identity.revocations (
          revocation_key text PRIMARY KEY,
          target         jsonb NOT NULL,
          revocation     jsonb NOT NULL,
          reason         text,
          requested_by   text NOT NULL,
          requested_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX revocations_target ON identity.revocations USING gin (target jsonb_path_ops);

        -- Consent per purpose, last writer by event time: {"<purpose>": {value, at, eventId, source}}.
        ALTER TABLE read_models.identifier_facts ADD COLUMN consent jsonb NOT NULL DEFAULT '{}';
        UPDATE read_models.customer_profiles SET consent = '{}' WHERE consent IS NULL;
        ALTER TABLE read_models.customer_profiles ALTER COLUMN consent SET NOT NULL;
        COMMENT ON COLUMN read_models.customer_profiles.consent IS
          'Current consent per purpose: {"<purpose>": {"value": bool, "at": event time, "source": event type}}';

        -- Search sorts on exactly these expressions (profile-queries.ts SORT_COLUMNS), with the
        -- customer id as the tie-break that keeps cursors stable.
        CREATE INDEX customer_profiles_sort_last_seen
          ON read_models.customer_profiles ((coalesce(last_seen_at, '-infinity')), customer_id);
        CREATE INDEX customer_profiles_sort_first_seen
          ON read_models.customer_profiles ((coalesce(first_seen_at, '-infinity')), customer_id);
        CREATE INDEX customer_profiles_sort_total_events
          ON read_models.customer_profiles (total_events, customer_id);
        CREATE INDEX customer_profiles_sort_net_revenue
          ON read_models.customer_profiles (net_revenue, customer_id);
      `,
    },
    {
      version: 4,
      name: 'one statement per batch, deferred profile recompute while catching up',
      sql: `
        -- Customers whose profile a replay far behind the head (a rebuild) left to recompute:
        -- the next batch applied normally recomputes them all and empties the table.
        CREATE TABLE read_models.profile_recompute_pending (
          customer_id text PRIMARY KEY
        );

        -- Everything one batch of the customer_profiles projection writes, in one round trip:
        -- the projection computes the identity graph's outcome in JavaScript and hands the rows
        -- over as JSON documents (one per table), instead of a dozen statements with escaped
        -- arrays. The target argument is the schema of the tables: read_models, or pg_temp for a profile
        -- computed as of a past time. The statements run in this order, each seeing the one
        -- before, so the profile recompute reads the identifiers and facts just written.
        CREATE FUNCTION read_models.apply_customer_profile_batch(
          target       text,
          observations json,
          gone         json,
          moved        json,
          withdrawn    json,
          links        json,
          facts        json,
          touchpoints  json,
          customers    json,
          currency     text,
          defer        boolean,
          -- null for a chunk of a batch but the last: the generation moves once per batch
          generation   bigint
        ) RETURNS void LANGUAGE plpgsql AS $fn$
        DECLARE
          recompute text[];
        BEGIN
          EXECUTE format($q$
            INSERT INTO %I.identity_observations (event_id, occurred_at, source, identifiers)
            SELECT event_id, occurred_at, source, identifiers
              FROM json_to_recordset($1) AS o(event_id text, occurred_at timestamptz, source text, identifiers text[])
            ON CONFLICT (event_id) DO NOTHING$q$, target) USING observations;

          EXECUTE format($q$
            DELETE FROM %I.customer_identifiers
             WHERE identifier IN (SELECT value FROM json_array_elements_text($1))$q$, target) USING gone;
          EXECUTE format($q$
            INSERT INTO %I.customer_identifiers (identifier, kind, customer_id)
            SELECT identifier, kind, customer_id
              FROM json_to_recordset($1) AS m(identifier text, kind text, customer_id text)
            ON CONFLICT (identifier) DO UPDATE SET customer_id = excluded.customer_id$q$, target) USING moved;

          EXECUTE format($q$
            DELETE FROM %I.identity_links l
             USING json_to_recordset($1) AS w(link_id text, event_id text, status text)
             WHERE l.link_id = w.link_id AND l.event_id = w.event_id AND l.status = w.status$q$, target)
            USING withdrawn;
          EXECUTE format($q$
            INSERT INTO %I.identity_links (link_id, event_id, status, identifier_a, identifier_b, occurred_at,
                                            source, evidence_identifiers, reason_code, reason)
            SELECT link_id, event_id, status, a, b, occurred_at, source, evidence_identifiers, reason_code, reason
              FROM json_to_recordset($1) AS r(link_id text, event_id text, status text, a text, b text,
                                              occurred_at timestamptz, source text, evidence_identifiers text[],
                                              reason_code text, reason text)
            ON CONFLICT (link_id, event_id, status) DO UPDATE SET
              identifier_a = excluded.identifier_a, identifier_b = excluded.identifier_b,
              reason_code = excluded.reason_code, reason = excluded.reason$q$, target) USING links;

          -- Facts add up commutatively; the last contact is last writer by (time, event id).
          EXECUTE format($q$
            INSERT INTO %1$I.identifier_facts AS f
              (identifier, web_events, email_events, phone_events, other_events, first_seen_at, last_seen_at,
               last_contact_at, last_contact_event_id, last_contact_channel, last_contact_type, last_contact_summary,
               traits, orders, net_revenue, consent)
            SELECT identifier, web, email, phone, other, first_seen_at, last_seen_at, contact_at, contact_event_id,
                   contact_channel, contact_type, contact_summary, traits, orders, revenue, consent
              FROM json_to_recordset($1) AS d(identifier text, web int, email int, phone int, other int,
                                              first_seen_at timestamptz, last_seen_at timestamptz,
                                              contact_at timestamptz, contact_event_id text, contact_channel text,
                                              contact_type text, contact_summary text, traits jsonb, orders int,
                                              revenue numeric, consent jsonb)
            ON CONFLICT (identifier) DO UPDATE SET
              web_events = f.web_events + excluded.web_events,
              email_events = f.email_events + excluded.email_events,
              phone_events = f.phone_events + excluded.phone_events,
              other_events = f.other_events + excluded.other_events,
              first_seen_at = LEAST(f.first_seen_at, excluded.first_seen_at),
              last_seen_at = GREATEST(f.last_seen_at, excluded.last_seen_at),
              last_contact_at = CASE WHEN excluded.last_contact_at IS NOT NULL AND (f.last_contact_at IS NULL
                OR (excluded.last_contact_at, excluded.last_contact_event_id) > (f.last_contact_at, f.last_contact_event_id))
                THEN excluded.last_contact_at ELSE f.last_contact_at END,
              last_contact_event_id = CASE WHEN excluded.last_contact_at IS NOT NULL AND (f.last_contact_at IS NULL
                OR (excluded.last_contact_at, excluded.last_contact_event_id) > (f.last_contact_at, f.last_contact_event_id))
                THEN excluded.last_contact_event_id ELSE f.last_contact_event_id END,
              last_contact_channel = CASE WHEN excluded.last_contact_at IS NOT NULL AND (f.last_contact_at IS NULL
                OR (excluded.last_contact_at, excluded.last_contact_event_id) > (f.last_contact_at, f.last_contact_event_id))
                THEN excluded.last_contact_channel ELSE f.last_contact_channel END,
              last_contact_type = CASE WHEN excluded.last_contact_at IS NOT NULL AND (f.last_contact_at IS NULL
                OR (excluded.last_contact_at, excluded.last_contact_event_id) > (f.last_contact_at, f.last_contact_event_id))
                THEN excluded.last_contact_type ELSE f.last_contact_type END,
              last_contact_summary = CASE WHEN excluded.last_contact_at IS NOT NULL AND (f.last_contact_at IS NULL
                OR (excluded.last_contact_at, excluded.last_contact_event_id) > (f.last_contact_at, f.last_contact_event_id))
                THEN excluded.last_contact_summary ELSE f.last_contact_summary END,
              traits = CASE WHEN excluded.traits = '{}' THEN f.traits
                            ELSE read_models.merge_traits(f.traits, excluded.traits) END,
              orders = f.orders + excluded.orders,
              net_revenue = f.net_revenue + excluded.net_revenue,
              consent = CASE WHEN excluded.consent = '{}' THEN f.consent
                             ELSE read_models.merge_traits(f.consent, excluded.consent) END$q$, target)
            USING facts;

          EXECUTE format($q$
            INSERT INTO %I.customer_touchpoints (event_id, identifier, occurred_at, channel, type, summary)
            SELECT event_id, identifier, occurred_at, channel, type, summary
              FROM json_to_recordset($1) AS t(event_id text, identifier text, occurred_at timestamptz,
                                              channel text, type text, summary text)
            ON CONFLICT (event_id) DO NOTHING$q$, target) USING touchpoints;

          IF defer THEN
            EXECUTE format($q$
              INSERT INTO %I.profile_recompute_pending (customer_id)
              SELECT value FROM json_array_elements_text($1) ON CONFLICT (customer_id) DO NOTHING$q$, target)
              USING customers;
          ELSE
            EXECUTE format($q$
              WITH drained AS (DELETE FROM %I.profile_recompute_pending RETURNING customer_id)
              SELECT coalesce(array_agg(customer_id), '{}') FROM (
                SELECT customer_id FROM drained UNION SELECT value FROM json_array_elements_text($1)) c$q$, target)
              INTO recompute USING customers;
            IF cardinality(recompute) > 0 THEN
              EXECUTE format($q$DELETE FROM %I.customer_profiles WHERE customer_id = ANY($1)$q$, target)
                USING recompute;
              -- Profiles are derived rows: what the identifiers and their facts say.
              EXECUTE format($q$
                WITH members AS (
                  SELECT ci.customer_id, ci.identifier, f.web_events, f.email_events, f.phone_events, f.other_events,
                         f.first_seen_at, f.last_seen_at, f.last_contact_at, f.last_contact_event_id,
                         f.last_contact_channel, f.last_contact_type, f.last_contact_summary,
                         coalesce(f.traits, '{}'::jsonb) AS traits, coalesce(f.consent, '{}'::jsonb) AS consent,
                         f.orders, f.net_revenue
                    FROM %1$I.customer_identifiers ci
                    LEFT JOIN %1$I.identifier_facts f ON f.identifier = ci.identifier
                   WHERE ci.customer_id = ANY($1)
                ), totals AS (
                  SELECT customer_id, array_agg(identifier ORDER BY identifier) AS identifiers,
                         coalesce(sum(web_events), 0)::int AS web_events,
                         coalesce(sum(email_events), 0)::int AS email_events,
                         coalesce(sum(phone_events), 0)::int AS phone_events,
                         coalesce(sum(other_events), 0)::int AS other_events,
                         min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
                         coalesce(sum(orders), 0)::int AS orders, coalesce(sum(net_revenue), 0) AS net_revenue
                    FROM members
                   GROUP BY customer_id
                ), last_contact AS (
                  SELECT DISTINCT ON (customer_id) customer_id, last_contact_at, last_contact_channel,
                         last_contact_type, last_contact_summary
                    FROM members WHERE last_contact_at IS NOT NULL
                   ORDER BY customer_id, last_contact_at DESC, last_contact_event_id DESC
                ), traits AS (
                  SELECT customer_id, jsonb_object_agg(key, value -> 'value') AS traits
                    FROM (SELECT DISTINCT ON (m.customer_id, t.key) m.customer_id, t.key, t.value
                            FROM members m, jsonb_each(m.traits) t
                           ORDER BY m.customer_id, t.key, t.value ->> 'at' DESC, t.value ->> 'eventId' DESC) w
                   GROUP BY customer_id
                ), consent AS (
                  SELECT customer_id, jsonb_object_agg(key, value - 'eventId') AS consent
                    FROM (SELECT DISTINCT ON (m.customer_id, c.key) m.customer_id, c.key, c.value
                            FROM members m, jsonb_each(m.consent) c
                           ORDER BY m.customer_id, c.key, c.value ->> 'at' DESC, c.value ->> 'eventId' DESC) w
                   GROUP BY customer_id
                )
                INSERT INTO %1$I.customer_profiles
                  (customer_id, identifiers, traits, first_seen_at, last_seen_at, web_events, email_events, phone_events,
                   other_events, total_events, last_contact_at, last_contact_channel, last_contact_type,
                   last_contact_summary, orders, net_revenue, currency, consent)
                SELECT t.customer_id, t.identifiers, coalesce(tr.traits, '{}'::jsonb), t.first_seen_at, t.last_seen_at,
                       t.web_events, t.email_events, t.phone_events, t.other_events,
                       t.web_events + t.email_events + t.phone_events + t.other_events,
                       lc.last_contact_at, lc.last_contact_channel, lc.last_contact_type, lc.last_contact_summary,
                       t.orders, t.net_revenue, $2, coalesce(co.consent, '{}'::jsonb)
                  FROM totals t
                  LEFT JOIN last_contact lc USING (customer_id)
                  LEFT JOIN traits tr USING (customer_id)
                  LEFT JOIN consent co USING (customer_id)$q$, target)
                USING recompute, currency;
            END IF;
          END IF;

          IF generation IS NOT NULL THEN
            EXECUTE format($q$
              INSERT INTO %I.identity_generation (singleton, generation) VALUES (true, $1)
              ON CONFLICT (singleton) DO UPDATE SET generation = excluded.generation$q$, target)
              USING generation;
          END IF;
        END
        $fn$;
      `,
    },
  ],
};
