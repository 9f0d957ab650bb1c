import { campaignFromSearch } from './campaign';
import type { TrackerEnvironment } from './environment';
import {
  BATCH_MAX_BYTES,
  BEACON_MAX_BYTES,
  boundQueue,
  chunk,
  outcomeOf,
  parseQueue,
  retryDelayMs,
  utf8Bytes,
  withoutIds,
} from './queue';
import type { Consent, JsonObject, MessageType, SegmentMessage, TrackerOptions } from './types';
import { LIBRARY_NAME, TRACKER_VERSION } from './version';

/** First-party cookie holding the anonymous id (one year, SameSite=Lax, Secure on https). */
export const ANONYMOUS_ID_COOKIE = 'touchline_aid';
/** localStorage keys. */
export const STORAGE_KEYS = {
  anonymousId: 'touchline.anonymousId',
  userId: 'touchline.userId',
  queue: 'touchline.queue',
} as const;

const ONE_YEAR_SECONDS = 365 * 24 * 3600;

export class TrackerError extends Error {
  constructor(
    readonly code: 'INVALID_OPTIONS' | 'REFUSED_BY_COLLECTOR',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The tracker core: builds Segment messages, keeps them in a bounded queue (localStorage once
 * consent is granted, memory before), and sends them in batches until the collector confirms.
 * Delivery is at least once; the collector stores each messageId once.
 */
export class Tracker {
  private consentState: Consent;
  private anonymousId: string;
  private userId: string | null = null;
  /** The queue while consent is pending; with consent the queue lives in storage. */
  private memoryQueue: SegmentMessage[] = [];
  /** Ids already handed to sendBeacon from this page, so a second hide event does not resend. */
  private beaconed: string[] = [];
  private timer: unknown = null;
  private inFlight = false;
  private failures = 0;
  private readonly url: string;
  private readonly flushIntervalMs: number;
  private readonly maxBatchSize: number;
  private readonly maxQueueSize: number;

  constructor(
    private readonly options: TrackerOptions & { host: string },
    private readonly env: TrackerEnvironment,
  ) {
    if (typeof options.writeKey !== 'string' || options.writeKey === '') {
      throw new TrackerError('INVALID_OPTIONS', 'touchline.init needs a writeKey');
    }
    if (!/^https?:\/\//.test(options.host)) {
      throw new TrackerError('INVALID_OPTIONS', 'touchline.init needs host: the collector URL');
    }
    this.url = `${options.host.replace(/\/+$/, '')}/v1/batch`;
    this.flushIntervalMs = positive(options.flushIntervalMs, 1000);
    this.maxBatchSize = positive(options.maxBatchSize, 20);
    this.maxQueueSize = positive(options.maxQueueSize, 500);
    this.consentState = options.consent === 'pending' ? 'pending' : 'granted';
    this.anonymousId = env.newId();
    if (this.consentState === 'granted') this.adoptStoredIdentity();
    env.onHide(() => this.safely(() => this.flushOnHide()));
    if (options.autoPage !== false) this.page();
    // Whatever an earlier page left unconfirmed goes out now.
    if (this.consentState === 'granted' && this.readQueue().length > 0) this.schedule(0);
  }

  track(event: string, properties?: JsonObject): void {
    this.enqueue('track', { event: String(event), properties: objectOr(properties) });
  }

  /** page(name?, properties?) or page(properties). */
  page(name?: string | JsonObject, properties?: JsonObject): void {
    if (typeof name === 'object' && name !== null) {
      properties = name;
      name = undefined;
    }
    const fields: Partial<SegmentMessage> = {
      properties: {
        ...this.env.page(),
        ...(name === undefined ? {} : { name }),
        ...objectOr(properties),
      },
    };
    if (name !== undefined) fields.name = String(name);
    this.enqueue('page', fields);
  }

  /** identify(userId, traits?) or identify(traits) for the current user. */
  identify(userId?: string | number | JsonObject | null, traits?: JsonObject): void {
    if (typeof userId === 'object' && userId !== null) {
      traits = userId;
      userId = undefined;
    }
    if (userId !== undefined && userId !== null && userId !== '') {
      this.userId = String(userId);
      this.persistIdentity();
    }
    this.enqueue('identify', { traits: objectOr(traits) });
  }

  /** Forget the user (log-out): a new anonymous id, no user id. Queued messages still go out. */
  reset(): void {
    this.userId = null;
    this.anonymousId = this.env.newId();
    this.env.storage.remove(STORAGE_KEYS.userId);
    this.persistIdentity();
  }

  consent(value: 'granted' | 'denied'): void {
    if (value === 'granted') {
      if (this.consentState === 'granted') return;
      const memoryId = this.anonymousId;
      this.consentState = 'granted';
      this.adoptStoredIdentity();
      // Calls made while pending belong to the visitor the stored id names.
      const pending = this.memoryQueue.map((m) =>
        m.anonymousId === memoryId ? { ...m, anonymousId: this.anonymousId } : m,
      );
      this.memoryQueue = [];
      this.writeQueue(this.readQueue().concat(pending));
      this.schedule(0);
    } else if (value === 'denied') {
      // Withdrawn consent: nothing queued is sent and no identifier stays on the device.
      this.consentState = 'denied';
      this.memoryQueue = [];
      this.cancelTimer();
      for (const key of [STORAGE_KEYS.queue, STORAGE_KEYS.anonymousId, STORAGE_KEYS.userId]) {
        this.env.storage.remove(key);
      }
      this.env.cookies.remove(ANONYMOUS_ID_COOKIE);
      this.userId = null;
      this.anonymousId = this.env.newId();
    }
  }

  getAnonymousId(): string {
    return this.anonymousId;
  }

  /** Send what is queued now (one batch at a time), without waiting for the interval. */
  async flush(): Promise<void> {
    if (this.consentState !== 'granted' || this.inFlight) return;
    const batch = chunk(this.readQueue(), this.maxBatchSize, BATCH_MAX_BYTES)[0];
    if (!batch) return;
    this.inFlight = true;
    const body = this.body(batch);
    let status = 0;
    try {
      status = await this.env.post(this.url, body, utf8Bytes(body) < BEACON_MAX_BYTES);
    } finally {
      this.inFlight = false;
    }
    const outcome = outcomeOf(status);
    if (outcome === 'retry') {
      this.failures += 1;
      this.cancelTimer();
      this.schedule(retryDelayMs(this.failures, this.env.random()));
      return;
    }
    this.failures = 0;
    this.settle(batch);
    if (outcome === 'drop') {
      this.report(
        new TrackerError(
          'REFUSED_BY_COLLECTOR',
          `the collector refused ${batch.length} message(s) with HTTP ${status}; they are dropped`,
        ),
      );
    }
    if (this.readQueue().length > 0) this.schedule(0);
  }

  /**
   * The page may be going away: hand everything not yet beaconed to sendBeacon (CORS-simple
   * text/plain, so no preflight has to finish). The messages stay queued until a later answer
   * confirms them, so a beacon lost on the way is sent again by the next page.
   */
  private flushOnHide(): void {
    if (this.consentState !== 'granted') return;
    const fresh = this.readQueue().filter((m) => this.beaconed.indexOf(m.messageId) < 0);
    for (const batch of chunk(fresh, 100, BEACON_MAX_BYTES)) {
      const body = this.body(batch);
      this.beaconed = this.beaconed.concat(batch.map((m) => m.messageId));
      if (!this.env.beacon(this.url, body)) {
        void this.env.post(this.url, body, true).then((status) =>
          this.safely(() => {
            if (outcomeOf(status) === 'delivered') this.settle(batch);
          }),
        );
      }
    }
  }

  private enqueue(type: MessageType, fields: Partial<SegmentMessage>): void {
    if (this.consentState === 'denied') return;
    const queue = this.readQueue();
    queue.push(this.message(type, fields));
    this.writeQueue(queue);
    if (this.consentState !== 'granted') return;
    if (queue.length >= this.maxBatchSize && this.failures === 0) {
      this.cancelTimer();
      this.flushSafely();
    } else {
      this.schedule(this.flushIntervalMs);
    }
  }

  private message(type: MessageType, fields: Partial<SegmentMessage>): SegmentMessage {
    const page = this.env.page();
    const campaign = campaignFromSearch(page.search);
    return {
      type,
      messageId: this.env.newId(),
      anonymousId: this.anonymousId,
      userId: this.userId,
      ...fields,
      context: {
        library: { name: LIBRARY_NAME, version: TRACKER_VERSION },
        page,
        ...this.env.device(),
        ...(campaign ? { campaign } : {}),
      },
      timestamp: this.env.now().toISOString(),
    };
  }

  /** The /v1/batch body: the write key travels in it because a beacon cannot set headers. */
  private body(batch: readonly SegmentMessage[]): string {
    const sentAt = this.env.now().toISOString();
    return JSON.stringify({
      writeKey: this.options.writeKey,
      sentAt,
      batch: batch.map((m) => ({ ...m, sentAt })),
    });
  }

  /** Take the answered messages out of the queue (read again: another tab may have written). */
  private settle(batch: readonly SegmentMessage[]): void {
    this.writeQueue(
      withoutIds(
        this.readQueue(),
        batch.map((m) => m.messageId),
      ),
    );
  }

  private readQueue(): SegmentMessage[] {
    return this.consentState === 'granted'
      ? parseQueue(this.env.storage.get(STORAGE_KEYS.queue))
      : this.memoryQueue.slice();
  }

  private writeQueue(queue: SegmentMessage[]): void {
    let bounded = boundQueue(queue, this.maxQueueSize);
    if (this.consentState !== 'granted') {
      this.memoryQueue = bounded;
      return;
    }
    if (bounded.length === 0) {
      this.env.storage.remove(STORAGE_KEYS.queue);
      return;
    }
    // Over the storage quota: keep the newest half until it fits.
    while (!this.env.storage.set(STORAGE_KEYS.queue, JSON.stringify(bounded)) && bounded.length) {
      bounded = boundQueue(bounded, Math.floor(bounded.length / 2));
    }
  }

  /** Either store restores the other: the cookie survives a cleared localStorage and back. */
  private adoptStoredIdentity(): void {
    const storage = this.env.storage;
    this.anonymousId =
      this.env.cookies.get(ANONYMOUS_ID_COOKIE) ??
      storage.get(STORAGE_KEYS.anonymousId) ??
      this.anonymousId;
    this.userId = this.userId ?? storage.get(STORAGE_KEYS.userId);
    this.persistIdentity();
  }

  private persistIdentity(): void {
    if (this.consentState !== 'granted') return;
    this.env.cookies.set(ANONYMOUS_ID_COOKIE, this.anonymousId, ONE_YEAR_SECONDS);
    this.env.storage.set(STORAGE_KEYS.anonymousId, this.anonymousId);
    if (this.userId !== null) this.env.storage.set(STORAGE_KEYS.userId, this.userId);
  }

  private schedule(ms: number): void {
    if (this.timer !== null) return;
    this.timer = this.env.setTimer(() => {
      this.timer = null;
      this.flushSafely();
    }, ms);
  }

  /** Errors go to onError, never to the host page (not even as an unhandled rejection). */
  private safely(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.report(error);
    }
  }

  private flushSafely(): void {
    this.flush().catch((error: unknown) => this.report(error));
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // The host's own handler failed; there is nobody left to tell.
    }
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.env.clearTimer(this.timer);
    this.timer = null;
  }
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && value > 0 ? value : fallback;
}

function objectOr(value: unknown): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : {};
}
