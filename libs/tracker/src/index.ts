export { campaignFromSearch } from './campaign';
export type { CookieJar, KeyValueStore, PageInfo, TrackerEnvironment } from './environment';
export { createGlobalApi, type TouchlineApi } from './global-api';
export { formatUuidV4, uuidV4 } from './ids';
export {
  BATCH_MAX_BYTES,
  BEACON_MAX_BYTES,
  boundQueue,
  chunk,
  outcomeOf,
  parseQueue,
  retryDelayMs,
  withoutIds,
} from './queue';
export { ANONYMOUS_ID_COOKIE, STORAGE_KEYS, Tracker, TrackerError } from './tracker';
export type { Consent, JsonObject, MessageType, SegmentMessage, TrackerOptions } from './types';
export { LIBRARY_NAME, TRACKER_VERSION } from './version';
