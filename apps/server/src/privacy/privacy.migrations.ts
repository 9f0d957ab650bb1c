import type { MigrationSet } from '@touchline/platform';

/** Data keys for crypto-shredding, apart from the events they protect. Forward-only. */
export const privacyMigrationSet: MigrationSet = {
  name: 'privacy',
  migrations: [
    {
      version: 1,
      name: 'subject keys',
      sql: `
        CREATE SCHEMA IF NOT EXISTS privacy;
        -- One row per subject (the pseudonym of an identifier). wrapped_key is the data key
        -- encrypted with the master key; NULL once destroyed by an erasure (erased_at says when).
        CREATE TABLE privacy.subject_keys (
          subject     text PRIMARY KEY,
          wrapped_key text,
          created_at  timestamptz NOT NULL DEFAULT now(),
          erased_at   timestamptz
        );
      `,
    },
    {
      version: 2,
      name: 'master key check, erasures',
      sql: `
        -- One row: an HMAC of a fixed label under the master key, so a process started with
        -- another key refuses to start instead of writing data under two keys.
        CREATE TABLE privacy.master_key_check (
          singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
          digest     text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        -- Every customer erased: ids, counts and pseudonyms, never personal data. A second
        -- erasure of the same customer finds its row and changes nothing.
        CREATE TABLE privacy.erasures (
          customer_id     text PRIMARY KEY,
          erased_at       timestamptz NOT NULL DEFAULT now(),
          subjects        text[] NOT NULL,
          keys_destroyed  integer NOT NULL,
          read_model_rows integer NOT NULL,
          requested_by    text
        );
        CREATE INDEX erasures_subjects ON privacy.erasures USING gin (subjects);
      `,
    },
    {
      version: 3,
      name: 'erasure dead-letter count',
      sql: `
        -- Dead letters (raw rejected input) an erasure deleted because they named the customer.
        ALTER TABLE privacy.erasures ADD COLUMN dead_letters integer NOT NULL DEFAULT 0;
      `,
    },
  ],
};
