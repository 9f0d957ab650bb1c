import type { MigrationSet } from '@touchline/platform';

/**
 * Consent history, marketing eligibility and the suppression list. Runs after the profile and
 * cross-sell sets (it reads customer_profiles and redefines the cross-sell opt-out hook).
 * Forward-only.
 */
export const consentMigrationSet: MigrationSet = {
  name: 'consent',
  migrations: [
    {
      version: 1,
      name: 'consent history, marketing eligibility, suppressions',
      sql: `
        CREATE TABLE read_models.consent_history (
          event_id    text NOT NULL,
          purpose     text NOT NULL,
          identifier  text NOT NULL,
          stream_id   text NOT NULL,
          granted     boolean NOT NULL,
          source      text NOT NULL,
          event_type  text NOT NULL,
          category    text,
          occurred_at timestamptz NOT NULL,
          PRIMARY KEY (event_id, purpose)
        );
        CREATE INDEX consent_history_identifier
          ON read_models.consent_history (identifier, purpose, occurred_at, event_id);
        COMMENT ON TABLE read_models.consent_history IS
          'Every consent statement per purpose (analytics, email_marketing, phone_marketing), by the identifier it was attributed to; projection consent_history';
        COMMENT ON COLUMN read_models.consent_history.identifier IS
          'Canonical identifier (userId:..., email:...); join read_models.customer_identifiers for the customer';
        COMMENT ON COLUMN read_models.consent_history.source IS
          'web-banner, email-link, phone, admin, import (ConsentChanged); segment-consent (context.consent.categoryPreferences); email-unsubscribe, email-spam-complaint';
        COMMENT ON COLUMN read_models.consent_history.category IS
          'The Segment consent category as sent, for segment-consent rows';

        -- A purpose's current value in a profile's consent object: the latest statement (by event
        -- time) among keys naming the purpose, Segment categories included ("Email Marketing" is
        -- email_marketing). NULL when the customer never said.
        CREATE FUNCTION read_models.consent_value(consent jsonb, purpose text) RETURNS boolean
          LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT (c.value ->> 'value')::boolean
              FROM jsonb_each(coalesce(consent, '{}'::jsonb)) c
             WHERE lower(regexp_replace(btrim(c.key), '[[:space:]-]+', '_', 'g')) = purpose
               AND jsonb_typeof(c.value -> 'value') = 'boolean'
             ORDER BY c.value ->> 'at' DESC NULLS LAST
             LIMIT 1
          $$;

        -- The cross-sell opt-out hook reads the same rule, so every marketing list agrees.
        CREATE OR REPLACE FUNCTION read_models.cross_sell_marketing_allowed(consent jsonb)
          RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT read_models.consent_value(consent, 'email_marketing') IS DISTINCT FROM false
          $$;

        CREATE VIEW read_models.marketing_eligibility AS
          SELECT customer_id,
                 read_models.consent_value(consent, 'analytics') AS analytics,
                 read_models.consent_value(consent, 'email_marketing') AS email_marketing,
                 read_models.consent_value(consent, 'phone_marketing') AS phone_marketing,
                 read_models.consent_value(consent, 'email_marketing') IS DISTINCT FROM false
                   AND EXISTS (SELECT 1 FROM unnest(identifiers) i WHERE i LIKE 'email:%') AS email_ok,
                 read_models.consent_value(consent, 'phone_marketing') IS DISTINCT FROM false
                   AND EXISTS (SELECT 1 FROM unnest(identifiers) i WHERE i LIKE 'phone:%') AS phone_ok
            FROM read_models.customer_profiles;
        COMMENT ON VIEW read_models.marketing_eligibility IS
          'Per customer: consent per purpose (NULL = never said) and whether email / phone marketing may reach them (an address or number, and not opted out)';

        CREATE SCHEMA IF NOT EXISTS privacy;
        -- Suppressed identifiers, only as a keyed hash (HMAC-SHA256) of the normalized canonical
        -- identifier: the clear value is never stored. secret_id tells which secret made the hash
        -- (derived from TOUCHLINE_MASTER_KEY); a row made with another secret matches nothing.
        CREATE TABLE privacy.suppressions (
          id              uuid PRIMARY KEY,
          identifier_hash text NOT NULL UNIQUE,
          identifier_type text NOT NULL,
          reason          text NOT NULL,
          secret_id       text NOT NULL,
          created_at      timestamptz NOT NULL DEFAULT now(),
          created_by      text
        );
      `,
    },
  ],
};
