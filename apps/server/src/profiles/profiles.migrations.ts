import type { MigrationSet } from '@touchline/platform';
import { PROFILE_BATCH_FUNCTION_V4, PROFILE_BATCH_FUNCTION_V5 } from './profile-batch-function.sql';

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

${PROFILE_BATCH_FUNCTION_V4}      `,
    },
    {
      version: 5,
      name: 'observations and touchpoints as arrays, without ON CONFLICT',
      sql: PROFILE_BATCH_FUNCTION_V5,
    },
  ],
};
