/** What the page looks like when a call is made: Segment's page properties and context.page. */
export interface PageInfo {
  readonly path: string;
  readonly referrer: string;
  readonly search: string;
  readonly title: string;
  readonly url: string;
}

/** A key-value store that never throws (localStorage, or memory where it is unavailable). */
export interface KeyValueStore {
  get(key: string): string | null;
  /** False when the value could not be stored (quota, storage disabled). */
  set(key: string, value: string): boolean;
  remove(key: string): void;
}

export interface CookieJar {
  get(name: string): string | null;
  set(name: string, value: string, maxAgeSeconds: number): void;
  remove(name: string): void;
}

/**
 * Everything the tracker needs from the browser, injected so the core holds no global state and
 * reads no clock or randomness of its own.
 */
export interface TrackerEnvironment {
  now(): Date;
  newId(): string;
  random(): number;
  readonly storage: KeyValueStore;
  readonly cookies: CookieJar;
  page(): PageInfo;
  /** userAgent, locale and timezone for context. */
  device(): { userAgent: string; locale: string; timezone: string | undefined };
  /** POST a text/plain body; resolves with the HTTP status, 0 when no answer came. */
  post(url: string, body: string, keepalive: boolean): Promise<number>;
  /** navigator.sendBeacon with a text/plain body; false when the browser did not take it. */
  beacon(url: string, body: string): boolean;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** Call `listener` when the page is hidden or unloaded (visibilitychange, pagehide). */
  onHide(listener: () => void): void;
}
