import type { Migration, MigrationSet } from '@touchline/platform';
import { createEventStoreMigration } from './0001-create-event-store.migration';

/** Forward-only; append new versions, never edit an applied one. */
export const eventStoreMigrations: readonly Migration[] = [createEventStoreMigration];

export const eventStoreMigrationSet: MigrationSet = {
  name: 'event_store',
  migrations: eventStoreMigrations,
};
