export { EventStoreDbConnectionStringError } from './errors';
export {
  CLAIM_STREAM_PREFIX,
  EventStoreDbEventStore,
  createEventStoreDbClient,
} from './eventstoredb-event-store';
export type { EventStoreDbEventStoreOptions } from './eventstoredb-event-store';
