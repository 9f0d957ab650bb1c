export { appendToStreamWithin } from './append';
export { eventStoreMigrations, eventStoreMigrationSet } from './migrations';
export { oldestTransactionAgeSeconds } from './oldest-transaction-age';
export { PostgresEventStore } from './postgres-event-store';
export type { PostgresEventStoreOptions } from './postgres-event-store';
