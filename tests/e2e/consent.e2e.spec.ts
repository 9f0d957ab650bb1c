import { randomUUID } from 'node:crypto';
import { type EmbeddedTouchline, startEmbeddedTouchline } from './support/embedded-touchline';
import { basicAuth, eventually } from './support/server-process';

interface ConsentAnswer {
  customerId: string;
  current: Record<string, { granted: boolean; at: string; source: string } | null>;
  marketing: { emailOk: boolean; phoneOk: boolean };
  history: {
    purpose: string;
    granted: boolean;
    source: string;
    category: string | null;
    eventType: string;
    occurredAt: string;
    identifierKind: string;
  }[];
  truncated: boolean;
}

/**
 * Consent statements end to end (embedded mode): a ConsentChanged track through the collector,
 * Segment's banner preferences, the profile's current consent, its history across the customer's
 * identifiers, and the marketing lists that must leave an opted-out customer out.
 */
describe('consent per purpose, its history and marketing eligibility', () => {
  let touchline: EmbeddedTouchline;

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('consent');
  });

  afterAll(async () => {
    await touchline?.stop();
  });

  const batch = async (messages: readonly Record<string, unknown>[]) => {
    const response = await fetch(`${touchline.server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(touchline.writeKey) },
      body: JSON.stringify({ batch: messages.map((m) => ({ messageId: randomUUID(), ...m })) }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as {
      accepted: number;
      results: { status: string; errors?: { field: string; rule: string }[] }[];
    };
  };

  const get = (route: string) =>
    fetch(`${touchline.server.url}${route}`, {
      headers: { authorization: `Bearer ${touchline.apiKey}` },
    });

  it('shows current consent per purpose and the history from every identifier, and excludes the opted-out', async () => {
    const run = randomUUID().slice(0, 8);
    const anonymousId = `anon-${run}`;
    const userId = `user-${run}`;
    const banner = (analytics: boolean) => ({
      consent: { categoryPreferences: { Analytics: analytics, 'Email Marketing': true } },
    });
    const result = await batch([
      // The anonymous visitor's banner choice, repeated on every page: one history entry each.
      {
        type: 'page',
        anonymousId,
        name: 'Home',
        timestamp: '2026-03-01T09:00:00.000Z',
        context: banner(true),
      },
      {
        type: 'page',
        anonymousId,
        name: 'Pricing',
        timestamp: '2026-03-01T09:01:00.000Z',
        context: banner(true),
      },
      // Signs up: joins the anonymous history to the user.
      {
        type: 'identify',
        anonymousId,
        userId,
        traits: { email: `consent.${run}@example.com` },
        timestamp: '2026-03-02T09:00:00.000Z',
        context: banner(true),
      },
      // Later withdraws email marketing from the preference centre, and refuses analytics.
      {
        type: 'track',
        userId,
        event: 'ConsentChanged',
        properties: { purpose: 'email_marketing', granted: false, source: 'email-link' },
        timestamp: '2026-03-05T09:00:00.000Z',
      },
      {
        type: 'track',
        userId,
        event: 'Consent Changed',
        properties: { purpose: 'analytics', granted: false, source: 'web-banner' },
        timestamp: '2026-03-06T09:00:00.000Z',
      },
      // Malformed: refused, naming the property.
      {
        type: 'track',
        userId,
        event: 'ConsentChanged',
        properties: { purpose: 'newsletters', granted: true, source: 'admin' },
      },
    ]);
    expect(result.results.map((r) => r.status)).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'rejected',
    ]);
    expect(result.results[5]?.errors).toEqual([
      expect.objectContaining({ field: 'properties.purpose', rule: 'enum' }),
    ]);

    const lookup = await eventually(async () => {
      const response = await get(`/v1/profiles/lookup?userId=${userId}`);
      return response.status === 200
        ? ((await response.json()) as { customerId: string })
        : undefined;
    });
    const consent = await eventually(async () => {
      const response = await get(`/v1/profiles/${lookup.customerId}/consent`);
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as ConsentAnswer;
      return body.history.length >= 5 && body.current['analytics']?.granted === false
        ? body
        : undefined;
    });
    expect(consent.current).toEqual({
      analytics: { granted: false, at: '2026-03-06T09:00:00.000Z', source: 'ConsentChanged' },
      email_marketing: {
        granted: false,
        at: '2026-03-05T09:00:00.000Z',
        source: 'ConsentChanged',
      },
      phone_marketing: null,
    });
    expect(consent.marketing).toEqual({ emailOk: false, phoneOk: false });
    expect(consent.truncated).toBe(false);
    expect(
      consent.history.map((h) => [h.occurredAt, h.purpose, h.granted, h.source, h.identifierKind]),
    ).toEqual([
      ['2026-03-01T09:00:00.000Z', 'analytics', true, 'segment-consent', 'anonymousId'],
      ['2026-03-01T09:00:00.000Z', 'email_marketing', true, 'segment-consent', 'anonymousId'],
      // The identify repeats the banner, but under the user id, whose first statement it is.
      ['2026-03-02T09:00:00.000Z', 'analytics', true, 'segment-consent', 'userId'],
      ['2026-03-02T09:00:00.000Z', 'email_marketing', true, 'segment-consent', 'userId'],
      ['2026-03-05T09:00:00.000Z', 'email_marketing', false, 'email-link', 'userId'],
      ['2026-03-06T09:00:00.000Z', 'analytics', false, 'web-banner', 'userId'],
    ]);

    // The marketing lists read the same rule: this customer is on none of them.
    const eligibility = await touchline.sql.query(
      `SELECT email_marketing, email_ok, read_models.cross_sell_marketing_allowed(p.consent) AS cross_sell
         FROM read_models.marketing_eligibility m
         JOIN read_models.customer_profiles p USING (customer_id) WHERE customer_id = $1`,
      [lookup.customerId],
    );
    expect(eligibility.rows).toEqual([
      { email_marketing: false, email_ok: false, cross_sell: false },
    ]);
    const prospects = await touchline.sql.query(
      'SELECT 1 FROM read_models.customer_prospects WHERE customer_id = $1',
      [lookup.customerId],
    );
    expect(prospects.rows).toEqual([]);

    // Bad input.
    expect((await get(`/v1/profiles/${randomUUID()}/consent`)).status).toBe(404);
    expect((await get('/v1/profiles/not-a-uuid/consent')).status).toBe(400);
    expect((await get(`/v1/profiles/${lookup.customerId}/consent?x=1`)).status).toBe(400);
  });
});
