import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Client } from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeWithChromium, launchChromium } from './support/browser';
import {
  closedPortUrl,
  type RecordingProxy,
  startRecordingProxy,
  startSite,
  type TestSite,
  trackerPage,
} from './support/browser-site';
import { masterKeyOf, openedEvents } from './support/pseudonym';
import { eventually, type ServerProcess, startServer } from './support/server-process';

interface StoredEvent {
  stream_id: string;
  event_type: string;
  data: Record<string, unknown> & {
    anonymousId: string | null;
    userId: string | null;
    properties?: Record<string, unknown>;
    context: Record<string, unknown>;
  };
}

// Globals of the page, for code passed to page.evaluate (the tests' tsconfig has no DOM types).
declare const localStorage: { getItem(key: string): string | null; clear(): void };
declare const window: { trackerErrors: Array<{ code: string; message: string }> };
declare const touchline: {
  track(event: string, properties?: Record<string, unknown>): void;
  identify(userId: string, traits?: Record<string, unknown>): void;
  consent(value: 'granted' | 'denied'): void;
  anonymousId(): string | undefined;
};

/**
 * tracker.js in a real headless Chromium, on a page served from another origin than the
 * collector (so CORS is real), against the real server in embedded mode. Requests go through a
 * recording proxy so the test sees exactly what the browser put on the wire.
 */
describeWithChromium('browser tracker (tracker.js in headless Chromium)', () => {
  let dataDir: string;
  let server: ServerProcess;
  let writeKey: string;
  let apiKey: string;
  let db: Client;
  let browser: Browser;
  let site: TestSite;
  let proxy: RecordingProxy;
  let context: BrowserContext;
  let pageErrors: string[];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-tracker-'));
    server = await startServer({ TOUCHLINE_DATA_DIR: dataDir });
    const credentials = JSON.parse(
      await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
    ) as { writeKey: string; apiKey: string };
    writeKey = credentials.writeKey;
    apiKey = credentials.apiKey;
    const databaseUrl = server.logs.find((l) => l.msg === 'embedded database started')?.[
      'embeddedDatabaseUrl'
    ];
    db = new Client({ connectionString: databaseUrl as string });
    await db.connect();
    proxy = await startRecordingProxy(server.url);
    site = await startSite();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await proxy?.close();
    await db?.end();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    context = await browser.newContext();
    pageErrors = [];
  });

  afterEach(async () => {
    await context.close();
    // Whatever the tracker did, the host page never saw an error from it.
    expect(pageErrors).toEqual([]);
  });

  /** A page on the customer's site that loads tracker.js through the proxy (its default host). */
  const servePage = (
    init: Record<string, unknown>,
    options: { title?: string; script?: string } = {},
  ): string => {
    const route = `/p-${randomUUID()}`;
    site.setPage(
      route,
      trackerPage({ scriptOrigin: proxy.url, init: { writeKey, ...init }, ...options }),
    );
    return `${site.url}${route}`;
  };

  const open = async (url: string): Promise<Page> => {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(url);
    return page;
  };

  const anonymousIdOf = async (page: Page): Promise<string> => {
    const id = await page.evaluate(() => touchline.anonymousId());
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    return id!;
  };

  const storage = (page: Page) =>
    page.evaluate(() => ({
      anonymousId: localStorage.getItem('touchline.anonymousId'),
      userId: localStorage.getItem('touchline.userId'),
      queue: localStorage.getItem('touchline.queue'),
    }));

  const idCookie = async (): Promise<string | undefined> =>
    (await context.cookies()).find((c) => c.name === 'touchline_aid')?.value;

  // Identifiers and personal fields are sealed in the store (crypto-shredding): the events are
  // opened with the server's keys, as the server itself reads them.
  const eventsOf = async (anonymousId: string): Promise<StoredEvent[]> =>
    (await openedEvents<StoredEvent['data']>(db, masterKeyOf(dataDir)))
      .filter((event) => event.data.anonymousId === anonymousId)
      .map(({ stream_id, event_type, data }) => ({ stream_id, event_type, data }));

  const waitForEvents = (anonymousId: string, count: number): Promise<StoredEvent[]> =>
    eventually(async () => {
      const events = await eventsOf(anonymousId);
      return events.length >= count ? events : undefined;
    });

  const customer = async (id: string): Promise<Record<string, unknown> | undefined> => {
    const response = await fetch(`${server.url}/v1/customers/${encodeURIComponent(id)}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    return response.status === 200
      ? ((await response.json()) as Record<string, unknown>)
      : undefined;
  };

  const customerWith = (id: string, totalEvents: number) =>
    eventually(async () => {
      const summary = await customer(id);
      return summary?.['totalEvents'] === totalEvents ? summary : undefined;
    });

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('serves tracker.js from the collector, gzipped, with an ETag', async () => {
    const response = await fetch(`${server.url}/tracker.js`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    const script = await response.text();
    expect(script).toContain('touchline.js');
    const etag = response.headers.get('etag')!;
    const again = await fetch(`${server.url}/tracker.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    // The wire size is what sites pay for: under 8 KB.
    const raw = await new Promise<Buffer>((resolve, reject) => {
      void import('node:http').then(({ get }) =>
        get(`${server.url}/tracker.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject),
      );
    });
    expect(raw.length).toBeLessThan(8 * 1024);
    expect(gunzipSync(raw).toString('utf8')).toBe(script);
  });

  it('sends the automatic page view and a track call with the anonymous id, page context and UTM campaign', async () => {
    const url = `${servePage({ flushIntervalMs: 200 }, { title: 'Spring landing' })}?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_content=hero+image&ref=x`;
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(url, { referer: 'https://news.example.org/article' });
    await page.evaluate(() => touchline.track('Button Clicked', { button: 'buy', price: 12.5 }));
    const anonymousId = await anonymousIdOf(page);

    const summary = await customerWith(`anon:${anonymousId}`, 2);
    expect(summary).toMatchObject({
      customerKey: `anon:${anonymousId}`,
      eventsByChannel: { web: 2 },
      lastContact: { channel: 'web', type: 'WebEventTracked', name: 'Button Clicked' },
    });

    const [pageView, tracked] = await waitForEvents(anonymousId, 2);
    const { pathname, search } = new URL(url);
    const expectedPage = {
      path: pathname,
      search,
      url,
      title: 'Spring landing',
      referrer: 'https://news.example.org/article',
    };
    const campaign = {
      source: 'newsletter',
      medium: 'email',
      name: 'spring sale',
      content: 'hero image',
    };
    expect(pageView).toMatchObject({
      stream_id: `anon:${anonymousId}`,
      event_type: 'WebPageViewed',
      data: {
        anonymousId,
        userId: null,
        properties: expectedPage,
        context: {
          library: { name: 'touchline.js', version: '0.1.0' },
          page: expectedPage,
          campaign,
          locale: expect.any(String) as unknown,
          userAgent: expect.stringContaining('Chrome') as unknown,
        },
      },
    });
    expect(tracked).toMatchObject({
      stream_id: `anon:${anonymousId}`,
      event_type: 'WebEventTracked',
      data: {
        event: 'Button Clicked',
        properties: { button: 'buy', price: 12.5 },
        context: { page: expectedPage, campaign },
      },
    });
    // Stored on the device for next time, in both places.
    expect(await idCookie()).toBe(anonymousId);
    expect((await storage(page)).anonymousId).toBe(anonymousId);
    // Sent as CORS-simple requests: text/plain POSTs from the site's origin, never a preflight.
    const batches = proxy.batchesFor(anonymousId);
    expect(batches.length).toBeGreaterThan(0);
    for (const request of batches) {
      expect(request).toMatchObject({ method: 'POST', origin: site.url });
      expect(request.contentType).toMatch(/^text\/plain/);
    }
    expect(proxy.requests.filter((r) => r.method === 'OPTIONS')).toEqual([]);
  });

  it('links the user id on identify: later events are stored under user:<id> and keep the anonymous id', async () => {
    const page = await open(servePage({ flushIntervalMs: 200 }));
    const anonymousId = await anonymousIdOf(page);
    await customerWith(`anon:${anonymousId}`, 1); // the automatic page view, still anonymous
    const userId = `user-${randomUUID()}`;
    await page.evaluate((id) => {
      touchline.identify(id, { plan: 'pro' });
      touchline.track('Plan Upgraded', { to: 'pro' });
    }, userId);
    await customerWith(`user:${userId}`, 2);
    expect((await storage(page)).userId).toBe(userId);

    // The next page knows the user from storage.
    await page.reload();
    await customerWith(`user:${userId}`, 3);
    const events = await waitForEvents(anonymousId, 4);
    expect(events.map((e) => [e.event_type, e.stream_id, e.data.userId])).toEqual([
      ['WebPageViewed', `anon:${anonymousId}`, null],
      ['UserIdentified', `user:${userId}`, userId],
      ['WebEventTracked', `user:${userId}`, userId],
      ['WebPageViewed', `user:${userId}`, userId],
    ]);
    expect(events[1]!.data).toMatchObject({ anonymousId, traits: { plan: 'pro' } });
  });

  it('delivers the last event sent while the page closes (beacon, no preflight)', async () => {
    // A flush interval longer than the test: only the unload path can deliver these events.
    const page = await open(servePage({ flushIntervalMs: 600_000 }));
    const anonymousId = await anonymousIdOf(page);
    await page.evaluate(() => touchline.track('Left Page', { step: 'checkout' }));
    await page.close({ runBeforeUnload: true });

    const events = await waitForEvents(anonymousId, 2);
    expect(events.map((e) => e.event_type)).toEqual(['WebPageViewed', 'WebEventTracked']);
    expect(events[1]!.data).toMatchObject({ event: 'Left Page', properties: { step: 'checkout' } });
    const batches = proxy.batchesFor(anonymousId);
    expect(batches.length).toBeGreaterThan(0);
    for (const request of batches) {
      expect(request).toMatchObject({ method: 'POST', path: '/v1/batch', origin: site.url });
      expect(request.contentType).toMatch(/^text\/plain/);
    }
    expect(proxy.requests.filter((r) => r.method === 'OPTIONS')).toEqual([]);
  });

  it('delivers the last event sent just before navigating to another site', async () => {
    const page = await open(servePage({ flushIntervalMs: 600_000 }));
    const anonymousId = await anonymousIdOf(page);
    await page.evaluate(() => touchline.track('Outbound Link Clicked'));
    await page.goto('about:blank');
    const events = await waitForEvents(anonymousId, 2);
    expect(events[1]!.data).toMatchObject({ event: 'Outbound Link Clicked' });
  });

  it("sends and stores nothing while consent is pending, then everything once it is 'granted'", async () => {
    const page = await open(
      servePage(
        { consent: 'pending', flushIntervalMs: 100 },
        { script: "touchline.track('Before Consent');" },
      ),
    );
    const memoryId = await anonymousIdOf(page);
    await page.evaluate(() => touchline.track('Still Waiting'));
    await sleep(1_500);
    expect(proxy.batchesFor(memoryId)).toEqual([]);
    expect(await storage(page)).toEqual({ anonymousId: null, userId: null, queue: null });
    expect(await idCookie()).toBeUndefined();

    await page.evaluate(() => touchline.consent('granted'));
    const events = await waitForEvents(memoryId, 3);
    expect(events.map((e) => e.data['event'] ?? e.event_type)).toEqual([
      'WebPageViewed',
      'Before Consent',
      'Still Waiting',
    ]);
    expect(await idCookie()).toBe(memoryId);
  });

  it("sends nothing once consent is 'denied', not even while the page closes, and removes the ids", async () => {
    const page = await open(servePage({ flushIntervalMs: 600_000 }));
    const anonymousId = await anonymousIdOf(page);
    expect(await idCookie()).toBe(anonymousId);
    const before = proxy.requests.length;
    await page.evaluate(() => {
      touchline.track('Before Denial');
      touchline.consent('denied');
      touchline.track('After Denial');
    });
    expect(await storage(page)).toEqual({ anonymousId: null, userId: null, queue: null });
    expect(await idCookie()).toBeUndefined();
    await page.close({ runBeforeUnload: true });
    await sleep(1_500);
    expect(proxy.requests.slice(before).filter((r) => r.path === '/v1/batch')).toEqual([]);
    expect(await eventsOf(anonymousId)).toEqual([]);
  });

  it('keeps the anonymous id across page loads; the cookie and localStorage each restore the other', async () => {
    const first = await open(servePage({ flushIntervalMs: 100 }));
    const anonymousId = await anonymousIdOf(first);
    await customerWith(`anon:${anonymousId}`, 1);

    const second = await open(servePage({ flushIntervalMs: 100 }));
    expect(await anonymousIdOf(second)).toBe(anonymousId);
    await customerWith(`anon:${anonymousId}`, 2);

    await second.evaluate(() => localStorage.clear());
    const third = await open(servePage({ flushIntervalMs: 100 }));
    expect(await anonymousIdOf(third)).toBe(anonymousId);
    expect((await storage(third)).anonymousId).toBe(anonymousId);
    await customerWith(`anon:${anonymousId}`, 3);

    await context.clearCookies();
    const fourth = await open(servePage({ flushIntervalMs: 100 }));
    expect(await anonymousIdOf(fourth)).toBe(anonymousId);
    expect(await idCookie()).toBe(anonymousId);
    await customerWith(`anon:${anonymousId}`, 4);
  });

  it('keeps the queue in localStorage while the collector is unreachable and drains it on the next page', async () => {
    const offline = await open(servePage({ host: await closedPortUrl(), flushIntervalMs: 100 }));
    const anonymousId = await anonymousIdOf(offline);
    await offline.evaluate(() => touchline.track('Offline Event', { n: 1 }));
    // Sends fail and back off; the queue survives in localStorage.
    await offline.waitForFunction(
      () => (JSON.parse(localStorage.getItem('touchline.queue') ?? '[]') as unknown[]).length === 2,
    );
    await sleep(1_000);
    expect(JSON.parse((await storage(offline)).queue ?? '[]')).toHaveLength(2);
    expect(await eventsOf(anonymousId)).toEqual([]);

    // The next page (same site, collector reachable) sends what the last one could not.
    await offline.goto(servePage({ flushIntervalMs: 100 }));
    const events = await waitForEvents(anonymousId, 3);
    expect(events.map((e) => e.data['event'] ?? e.event_type)).toEqual([
      'WebPageViewed',
      'Offline Event',
      'WebPageViewed',
    ]);
    await offline.waitForFunction(() => localStorage.getItem('touchline.queue') === null);
    // Retries carry the same messageIds, so nothing is stored twice.
    await sleep(500);
    expect(await eventsOf(anonymousId)).toHaveLength(3);
  });

  it('drops messages the collector refuses for good (a wrong write key) and tells onError', async () => {
    const page = await open(servePage({ writeKey: 'tlw_not-a-key', flushIntervalMs: 100 }));
    await page.waitForFunction(() => window.trackerErrors.length > 0);
    const errors = await page.evaluate(() => window.trackerErrors);
    expect(errors[0]).toMatchObject({ code: 'REFUSED_BY_COLLECTOR' });
    expect((await storage(page)).queue).toBeNull();
  });
});
