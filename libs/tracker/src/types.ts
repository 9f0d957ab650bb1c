/** A JSON object as the Segment spec uses it for properties, traits and context. */
export type JsonObject = Record<string, unknown>;

export type MessageType = 'track' | 'page' | 'identify';

/**
 * The consent the host page reports. `pending`: track in memory only, send nothing, store
 * nothing; `granted`: store and send; `denied`: discard everything and stop.
 */
export type Consent = 'granted' | 'pending' | 'denied';

/** A call in the shape of Segment's HTTP Tracking API, as the collector's /v1/batch takes it. */
export interface SegmentMessage {
  type: MessageType;
  messageId: string;
  anonymousId: string;
  userId: string | null;
  event?: string;
  name?: string;
  properties?: JsonObject;
  traits?: JsonObject;
  context: JsonObject;
  /** When the call was made, by the browser clock (ISO-8601). */
  timestamp: string;
  /** When this copy was sent, by the browser clock: lets the collector correct clock skew. */
  sentAt?: string;
}

export interface TrackerOptions {
  /** The source's write key (public: it only allows sending events). */
  writeKey: string;
  /** The collector's origin, e.g. https://collect.example.com; default: where tracker.js came from. */
  host?: string;
  /** Default `granted`. With `pending`, nothing leaves the page until `consent('granted')`. */
  consent?: 'granted' | 'pending';
  /** How long a call waits for others to join its batch (default 1000 ms). */
  flushIntervalMs?: number;
  /** Messages per request (default 20). */
  maxBatchSize?: number;
  /** Messages kept for retry at most; the oldest go first (default 500). */
  maxQueueSize?: number;
  /** Send a page view on init (default true). */
  autoPage?: boolean;
  /** Domain attribute of the id cookie, e.g. `.example.com` to share it across sub-domains. */
  cookieDomain?: string;
  /** Told about errors the tracker swallowed so the host page never sees them. */
  onError?: (error: unknown) => void;
}
