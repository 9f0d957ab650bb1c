import type { PageInfo, TrackerEnvironment } from './environment';
import { createGlobalApi } from './global-api';
import { ANONYMOUS_ID_COOKIE, STORAGE_KEYS, Tracker, TrackerError } from './tracker';
import type { SegmentMessage, TrackerOptions } from './types';

interface Sent {
  readonly via: 'post' | 'beacon';
  readonly keepalive?: boolean;
  readonly body: { writeKey: string; sentAt: string; batch: SegmentMessage[] };
}

/**
 * A deterministic browser: a manual clock and timers, counted ids, storage and cookies in maps,
 * and a collector that answers with scripted statuses. The real browser is in the e2e suite.
 */
function testEnvironment(options: { quotaBytes?: number; beaconAccepts?: boolean } = {}) {
  let now = Date.parse('2026-11-01T10:00:00.000Z');
  let ids = 0;
  const storage = new Map<string, string>();
  const cookies = new Map<string, string>();
  const sent: Sent[] = [];
  const statuses: number[] = [];
  const timers: Array<{ at: number; run: () => void; handle: number }> = [];
  const hideListeners: Array<() => void> = [];
  const page: PageInfo = {
    path: '/pricing',
    referrer: 'https://search.example/',
    search: '?utm_source=ads&utm_campaign=launch',
    title: 'Pricing',
    url: 'https://shop.example/pricing?utm_source=ads&utm_campaign=launch',
  };
  const env: TrackerEnvironment = {
    now: () => new Date(now),
    newId: () => `id-${(ids += 1)}`,
    random: () => 1,
    storage: {
      get: (key) => storage.get(key) ?? null,
      set: (key, value) => {
        if (options.quotaBytes !== undefined && value.length > options.quotaBytes) return false;
        storage.set(key, value);
        return true;
      },
      remove: (key) => void storage.delete(key),
    },
    cookies: {
      get: (name) => cookies.get(name) ?? null,
      set: (name, value) => void cookies.set(name, value),
      remove: (name) => void cookies.delete(name),
    },
    page: () => page,
    device: () => ({ userAgent: 'TestBrowser/1.0', locale: 'en-GB', timezone: 'Europe/London' }),
    post: (_url, body, keepalive) => {
      sent.push({ via: 'post', keepalive, body: JSON.parse(body) as Sent['body'] });
      return Promise.resolve(statuses.shift() ?? 200);
    },
    beacon: (_url, body) => {
      if (options.beaconAccepts === false) return false;
      sent.push({ via: 'beacon', body: JSON.parse(body) as Sent['body'] });
      return true;
    },
    setTimer: (run, ms) => {
      const handle = timers.length + 1;
      timers.push({ at: now + ms, run, handle });
      return handle;
    },
    clearTimer: (handle) => {
      const index = timers.findIndex((t) => t.handle === handle);
      if (index >= 0) timers.splice(index, 1);
    },
    onHide: (listener) => void hideListeners.push(listener),
  };
  return {
    env,
    storage,
    cookies,
    sent,
    /** Statuses the collector answers with, in order (200 once they run out). */
    answer: (...codes: number[]) => statuses.push(...codes),
    queued: (): SegmentMessage[] =>
      JSON.parse(storage.get(STORAGE_KEYS.queue) ?? '[]') as SegmentMessage[],
    nextTimerInMs: () => (timers[0] ? timers[0].at - now : undefined),
    /** Move the clock to the next timer and run it; then let the answer's promise settle. */
    async runNextTimer(): Promise<void> {
      timers.sort((a, b) => a.at - b.at);
      const timer = timers.shift();
      if (!timer) throw new Error('no timer is waiting');
      now = Math.max(now, timer.at);
      timer.run();
      await settle();
    },
    hide: () => hideListeners.forEach((listener) => listener()),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

const options = (extra: Partial<TrackerOptions> = {}): TrackerOptions & { host: string } => ({
  writeKey: 'tlw_key',
  host: 'https://collect.example',
  ...extra,
});

describe('Tracker', () => {
  it('sends the page view on init in Segment shape, with sentAt set when sent', async () => {
    const t = testEnvironment();
    const tracker = new Tracker(options(), t.env);
    tracker.track('Clicked', { button: 'buy' });
    expect(t.sent).toEqual([]);
    await t.runNextTimer();
    expect(t.sent).toHaveLength(1);
    const { body } = t.sent[0]!;
    expect(body.writeKey).toBe('tlw_key');
    expect(body.batch).toEqual([
      expect.objectContaining({
        type: 'page',
        messageId: 'id-2',
        anonymousId: 'id-1',
        userId: null,
        properties: expect.objectContaining({ path: '/pricing', title: 'Pricing' }) as unknown,
        timestamp: '2026-11-01T10:00:00.000Z',
        sentAt: '2026-11-01T10:00:01.000Z',
        context: {
          library: { name: 'touchline.js', version: '0.1.0' },
          page: expect.objectContaining({ referrer: 'https://search.example/' }) as unknown,
          userAgent: 'TestBrowser/1.0',
          locale: 'en-GB',
          timezone: 'Europe/London',
          campaign: { source: 'ads', name: 'launch' },
        },
      }),
      expect.objectContaining({ type: 'track', event: 'Clicked', properties: { button: 'buy' } }),
    ]);
    expect(t.queued()).toEqual([]);
    expect(t.cookies.get(ANONYMOUS_ID_COOKIE)).toBe('id-1');
    expect(t.storage.get(STORAGE_KEYS.anonymousId)).toBe('id-1');
  });

  it('sends at once when a batch is full', async () => {
    const t = testEnvironment();
    const tracker = new Tracker(options({ maxBatchSize: 3, autoPage: false }), t.env);
    tracker.track('One');
    tracker.track('Two');
    expect(t.sent).toHaveLength(0);
    tracker.track('Three');
    await settle();
    expect(t.sent.map((s) => s.body.batch.length)).toEqual([3]);
  });

  it('keeps the queue through failures with growing back-off, and empties it on success', async () => {
    const t = testEnvironment();
    new Tracker(options(), t.env);
    t.answer(0, 503, 429, 200);
    await t.runNextTimer();
    expect(t.queued()).toHaveLength(1);
    expect(t.nextTimerInMs()).toBe(1_000);
    await t.runNextTimer();
    expect(t.nextTimerInMs()).toBe(2_000);
    await t.runNextTimer();
    expect(t.nextTimerInMs()).toBe(4_000);
    await t.runNextTimer();
    expect(t.sent).toHaveLength(4);
    // Every retry carries the same messageId: the collector stores it once.
    expect(new Set(t.sent.map((s) => s.body.batch[0]!.messageId)).size).toBe(1);
    expect(t.queued()).toEqual([]);
    expect(t.nextTimerInMs()).toBeUndefined();
  });

  it('drops a batch the collector refuses for good and tells onError', async () => {
    const t = testEnvironment();
    const errors: unknown[] = [];
    new Tracker(options({ onError: (e) => errors.push(e) }), t.env);
    t.answer(401);
    await t.runNextTimer();
    expect(t.queued()).toEqual([]);
    expect(errors).toEqual([expect.objectContaining({ code: 'REFUSED_BY_COLLECTOR' })]);
    expect(t.nextTimerInMs()).toBeUndefined();
  });

  it('beacons unsent messages when the page hides, keeps them until confirmed, and beacons each once', async () => {
    const t = testEnvironment();
    const tracker = new Tracker(options({ flushIntervalMs: 60_000 }), t.env);
    tracker.track('Leaving');
    t.hide();
    t.hide();
    expect(t.sent.map((s) => [s.via, s.body.batch.length])).toEqual([['beacon', 2]]);
    expect(t.queued()).toHaveLength(2);
    tracker.track('Back Again');
    t.hide();
    expect(t.sent.map((s) => s.body.batch.length)).toEqual([2, 1]);
    await t.runNextTimer();
    expect(t.queued()).toEqual([]);
  });

  it('falls back to fetch keepalive when sendBeacon refuses, and confirms on its answer', async () => {
    const t = testEnvironment({ beaconAccepts: false });
    new Tracker(options({ flushIntervalMs: 60_000 }), t.env);
    t.hide();
    await settle();
    expect(t.sent.map((s) => [s.via, s.keepalive])).toEqual([['post', true]]);
    expect(t.queued()).toEqual([]);
  });

  it('with consent pending, keeps calls in memory only; granting adopts the stored id and sends them', async () => {
    const t = testEnvironment();
    t.cookies.set(ANONYMOUS_ID_COOKIE, 'returning-visitor');
    const tracker = new Tracker(options({ consent: 'pending' }), t.env);
    tracker.track('Before Consent');
    tracker.identify('u-1');
    t.hide();
    expect(t.nextTimerInMs()).toBeUndefined();
    expect(t.sent).toEqual([]);
    expect([...t.storage.keys()]).toEqual([]);

    tracker.consent('granted');
    await t.runNextTimer();
    expect(t.sent[0]!.body.batch.map((m) => [m.type, m.anonymousId, m.userId])).toEqual([
      ['page', 'returning-visitor', null],
      ['track', 'returning-visitor', null],
      ['identify', 'returning-visitor', 'u-1'],
    ]);
    expect(t.storage.get(STORAGE_KEYS.userId)).toBe('u-1');
  });

  it('with consent denied, discards the queue and the ids and sends nothing more', async () => {
    const t = testEnvironment();
    const tracker = new Tracker(options({ flushIntervalMs: 60_000 }), t.env);
    tracker.identify('u-1');
    tracker.consent('denied');
    tracker.track('Ignored');
    t.hide();
    expect(t.nextTimerInMs()).toBeUndefined();
    await settle();
    expect(t.sent).toEqual([]);
    expect([...t.storage.keys()]).toEqual([]);
    expect([...t.cookies.keys()]).toEqual([]);
  });

  it('keeps the newest messages within maxQueueSize and within the storage quota', () => {
    const bounded = testEnvironment();
    const tracker = new Tracker(
      options({ maxQueueSize: 3, flushIntervalMs: 60_000, autoPage: false }),
      bounded.env,
    );
    for (const name of ['a', 'b', 'c', 'd', 'e']) tracker.track(name);
    expect(bounded.queued().map((m) => m.event)).toEqual(['c', 'd', 'e']);

    const quota = testEnvironment({ quotaBytes: 3_000 });
    const small = new Tracker(options({ flushIntervalMs: 60_000, autoPage: false }), quota.env);
    for (let i = 0; i < 20; i += 1) small.track(`event-${i}`);
    const kept = quota.queued();
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(20);
    expect(kept[kept.length - 1]!.event).toBe('event-19');
  });

  it('reset forgets the user and starts a new anonymous id', () => {
    const t = testEnvironment();
    const tracker = new Tracker(options({ autoPage: false }), t.env);
    tracker.identify('u-1');
    tracker.reset();
    expect(t.storage.has(STORAGE_KEYS.userId)).toBe(false);
    expect(t.cookies.get(ANONYMOUS_ID_COOKIE)).toBe(tracker.getAnonymousId());
    expect(tracker.getAnonymousId()).not.toBe('id-1');
  });

  it('refuses options without a write key or collector URL', () => {
    const t = testEnvironment();
    expect(() => new Tracker(options({ writeKey: '' }), t.env)).toThrow(TrackerError);
    expect(() => new Tracker(options({ host: 'collect.example' }), t.env)).toThrow(
      'touchline.init needs host: the collector URL',
    );
  });
});

describe('window.touchline', () => {
  it('replays calls a loader snippet queued, and buffers calls made before init', async () => {
    const t = testEnvironment();
    const api = createGlobalApi(() => t.env, 'https://collect.example', [
      ['track', 'Queued By Snippet'],
      ['init', { writeKey: 'tlw_key', autoPage: false }],
      ['identify', 'u-1'],
    ]);
    api.track('After Load');
    await t.runNextTimer();
    expect(t.sent[0]!.body.batch.map((m) => m.event ?? m.type)).toEqual([
      'Queued By Snippet',
      'identify',
      'After Load',
    ]);
  });

  it('never throws into the page: bad input and a broken environment go to onError', () => {
    const errors: unknown[] = [];
    const broken = () => {
      throw new Error('storage exploded');
    };
    const api = createGlobalApi(broken, undefined, undefined);
    expect(() => api.init({ writeKey: 'k', onError: (e) => errors.push(e) })).not.toThrow();
    expect(errors).toEqual([expect.objectContaining({ code: 'INVALID_OPTIONS' })]);
    expect(() =>
      api.init({ writeKey: 'k', host: 'https://c.example', onError: (e) => errors.push(e) }),
    ).not.toThrow();
    expect(errors[1]).toEqual(new Error('storage exploded'));
    expect(() => api.track('Anything')).not.toThrow();
    expect(api.anonymousId()).toBeUndefined();
  });
});
