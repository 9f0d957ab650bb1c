/**
 * read_models.apply_customer_profile_batch, the one statement a chunk of the customer_profiles
 * projection sends (customer-profile.projection.ts writeBatch). Two versions of the profiles
 * migration set define it; the statements they share are written here once.
 */

/** Identifier moves, link evidence and the per-identifier facts, in this order. */
const IDENTIFIERS_LINKS_FACTS = `
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

`;

/** The profiles (recomputed now, or recorded as pending while catching up) and the generation. */
const PROFILES_AND_GENERATION = `
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
`;

const END = `        END
        $fn$;
`;

/** Version 4: every table's rows as one JSON document. */
export const PROFILE_BATCH_FUNCTION_V4 =
  `        -- Everything one batch of the customer_profiles projection writes, in one round trip:
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
` +
  `          EXECUTE format($q$
            INSERT INTO %I.identity_observations (event_id, occurred_at, source, identifiers)
            SELECT event_id, occurred_at, source, identifiers
              FROM json_to_recordset($1) AS o(event_id text, occurred_at timestamptz, source text, identifiers text[])
            ON CONFLICT (event_id) DO NOTHING$q$, target) USING observations;

` +
  IDENTIFIERS_LINKS_FACTS.slice(1) +
  `          EXECUTE format($q$
            INSERT INTO %I.customer_touchpoints (event_id, identifier, occurred_at, channel, type, summary)
            SELECT event_id, identifier, occurred_at, channel, type, summary
              FROM json_to_recordset($1) AS t(event_id text, identifier text, occurred_at timestamptz,
                                              channel text, type text, summary text)
            ON CONFLICT (event_id) DO NOTHING$q$, target) USING touchpoints;

` +
  PROFILES_AND_GENERATION.slice(1) +
  END;

/**
 * Version 5: observations and touchpoints as arrays and without ON CONFLICT (the projection never
 * sends an event twice); the other tables as in version 4.
 */
export const PROFILE_BATCH_FUNCTION_V5 =
  `
        DROP FUNCTION read_models.apply_customer_profile_batch(
          text, json, json, json, json, json, json, json, json, text, boolean, bigint);
        CREATE FUNCTION read_models.apply_customer_profile_batch(
          target          text,
          -- observations and touchpoints as one array per column: PostgreSQL reads unnest of
          -- arrays about twice as fast as json_to_recordset (docs/benchmarks.md)
          obs_event_ids   text[],
          obs_occurred_at timestamptz[],
          obs_sources     text[],
          -- each an array literal ({"a","b"}): observations have a varying number of identifiers
          obs_identifiers text[],
          gone            json,
          moved           json,
          withdrawn       json,
          links           json,
          facts           json,
          tp_event_ids    text[],
          tp_identifiers  text[],
          tp_occurred_at  timestamptz[],
          tp_channels     text[],
          tp_types        text[],
          tp_summaries    text[],
          customers       json,
          currency        text,
          defer           boolean,
          -- null for a chunk of a batch but the last: the generation moves once per batch
          generation      bigint
        ) RETURNS void LANGUAGE plpgsql AS $fn$
        DECLARE
          recompute text[];
        BEGIN
` +
  `          -- The projection applies an event once (its in-memory graph knows every stored
          -- observation), so these two inserts need no ON CONFLICT: a speculative insertion costs
          -- more than the row itself (docs/benchmarks.md). A duplicate would be a bug, and fails.
          EXECUTE format($q$
            INSERT INTO %I.identity_observations (event_id, occurred_at, source, identifiers)
            SELECT event_id, occurred_at, source, identifiers::text[]
              FROM unnest($1, $2, $3, $4) AS o(event_id, occurred_at, source, identifiers)$q$, target)
            USING obs_event_ids, obs_occurred_at, obs_sources, obs_identifiers;

` +
  IDENTIFIERS_LINKS_FACTS.slice(1) +
  `          EXECUTE format($q$
            INSERT INTO %I.customer_touchpoints (event_id, identifier, occurred_at, channel, type, summary)
            SELECT * FROM unnest($1, $2, $3, $4, $5, $6)$q$, target)
            USING tp_event_ids, tp_identifiers, tp_occurred_at, tp_channels, tp_types, tp_summaries;

` +
  PROFILES_AND_GENERATION.slice(1) +
  END;
