import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import { type EmbeddedTouchline, startEmbeddedTouchline } from './support/embedded-touchline';
import { storedStreamId } from './support/pseudonym';

/**
 * Segment's own Node.js library, unchanged, pointed at Touchline: every call type it sends is
 * accepted and stored as its typed event.
 */
describe("Segment's analytics-node library against Touchline", () => {
  let touchline: EmbeddedTouchline;

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('segment');
  });

  afterAll(async () => {
    await touchline?.stop();
  });

  it('accepts track, identify, page, screen, group and alias as the library sends them', async () => {
    const analytics = new Analytics({
      writeKey: touchline.writeKey,
      host: touchline.server.url,
      flushAt: 10,
      maxRetries: 1,
    });
    const failures: unknown[] = [];
    analytics.on('error', (error) => failures.push(error));
    const userId = `segment-${randomUUID()}`;
    const anonymousId = `anon-${randomUUID()}`;
    analytics.identify({ userId, anonymousId, traits: { plan: 'pro' } });
    analytics.track({ userId, event: 'Report Exported', properties: { format: 'csv' } });
    analytics.page({ userId, name: 'Pricing', properties: { url: 'https://example.com/pricing' } });
    analytics.screen({ userId, name: 'Dashboard' });
    analytics.group({ userId, groupId: 'acme', traits: { employees: 40 } });
    analytics.alias({ userId, previousId: anonymousId });
    analytics.track({
      userId,
      event: 'Order Completed',
      properties: {
        order_id: `o-${randomUUID()}`,
        total: 42.5,
        currency: 'EUR',
        products: [{ product_id: 'sku-1', price: 42.5, quantity: 1 }],
      },
    });
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(failures).toEqual([]);

    const stored = await touchline.sql.query<{ event_type: string }>(
      'SELECT event_type FROM event_store.events WHERE stream_id = $1 ORDER BY event_type',
      // Stored under the identifier's pseudonym (crypto-shredding), never the identifier itself.
      [storedStreamId(touchline.dataDir, `user:${userId}`)],
    );
    expect(stored.rows.map((r) => r.event_type)).toEqual([
      'GroupIdentified',
      'OrderCompleted',
      'ScreenViewed',
      'UserAliased',
      'UserIdentified',
      'WebEventTracked',
      'WebPageViewed',
    ]);
  });
});
