export { describeEventStoreContract } from './event-store.contract';
export type {
  EventStoreContractCapabilities,
  EventStoreContractFixture,
  PendingAppend,
} from './event-store.contract';
export { readAllStored } from './read-all-stored';
