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
  ],
};
