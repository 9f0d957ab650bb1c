import { randomUUID } from 'node:crypto';
import { computeTwilioSignature } from '@touchline/touchpoints';
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
  const twilioToken = `twilio-${randomUUID()}`;

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('consent', { TWILIO_AUTH_TOKEN: twilioToken });
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

  it('takes consent from a server sender for a customer known only by phone (POST /v1/consent)', async () => {
    const sourceId = `callcentre-${randomUUID().slice(0, 8)}`;
    const created = await fetch(`${touchline.server.url}/v1/admin/sources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${touchline.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        sourceId,
        channel: 'phone',
      }),
    });
    expect(created.status).toBe(201);
    const phoneKey = ((await created.json()) as { key: string }).key;
    const consentApi = (body: unknown, key = phoneKey) =>
      fetch(`${touchline.server.url}/v1/consent`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(key) },
        body: JSON.stringify(body),
      });
    // A London drama number (020 7946 0xxx), random per run so no two runs share one.
    const digits = String(Math.floor(Math.random() * 1_000)).padStart(3, '0');
    const phone = `+442079460${digits}`;

    const stated = await consentApi({
      batch: [
        {
          phone,
          purpose: 'phone_marketing',
          granted: false,
          source: 'phone',
          note: 'asked on the call',
          occurredAt: '2026-04-01T10:00:00Z',
          messageId: `call-${digits}-1`,
        },
        // Refused, each error naming its field; the other statement is still stored.
        { phone, purpose: 'sms', granted: 'no', source: 'phone' },
      ],
    });
    expect(stated.status).toBe(200);
    const outcome = (await stated.json()) as {
      accepted: number;
      rejected: number;
      results: { status: string; errors?: { path: string }[] }[];
    };
    expect(outcome).toMatchObject({ accepted: 1, rejected: 1 });
    expect(outcome.results[1]?.errors?.map((e) => e.path)).toEqual([
      'batch[1].purpose',
      'batch[1].granted',
    ]);

    const lookup = await eventually(async () => {
      const response = await get(`/v1/profiles/lookup?phone=${encodeURIComponent(phone)}`);
      return response.status === 200
        ? ((await response.json()) as { customerId: string })
        : undefined;
    });
    const consent = await eventually(async () => {
      const response = await get(`/v1/profiles/${lookup.customerId}/consent`);
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as ConsentAnswer;
      return body.current['phone_marketing'] ? body : undefined;
    });
    expect(consent.current['phone_marketing']).toEqual({
      granted: false,
      at: '2026-04-01T10:00:00.000Z',
      source: 'ConsentChanged',
    });
    expect(consent.marketing.phoneOk).toBe(false);
    expect(
      consent.history.map((h) => [h.purpose, h.granted, h.source, h.eventType, h.identifierKind]),
    ).toEqual([['phone_marketing', false, 'phone', 'ConsentChanged', 'phone']]);
    const eligibility = await eventually(async () => {
      const { rows } = await touchline.sql.query<{ phone_marketing: boolean; phone_ok: boolean }>(
        `SELECT phone_marketing, phone_ok FROM read_models.marketing_eligibility
          WHERE customer_id = $1`,
        [lookup.customerId],
      );
      return rows.length > 0 ? rows : undefined;
    });
    expect(eligibility).toEqual([{ phone_marketing: false, phone_ok: false }]);

    // Later the customer agrees again on a call, then texts " Stop": the SMS withdraws it.
    const regranted = await consentApi({
      phone,
      purpose: 'phone_marketing',
      granted: true,
      source: 'phone',
      occurredAt: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(regranted.status).toBe(200);
    const form = new URLSearchParams({
      MessageSid: `SM${randomUUID().replace(/-/g, '')}`,
      From: phone,
      To: '+14155550100',
      Body: ' Stop ',
      NumMedia: '0',
    });
    const route = `/v1/webhooks/twilio/sms/${sourceId}`;
    const params = Object.fromEntries([...form.keys()].map((key) => [key, form.getAll(key)]));
    const sms = await fetch(`${touchline.server.url}${route}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': computeTwilioSignature(
          twilioToken,
          `${touchline.server.url}${route}`,
          params,
        ),
      },
      body: form.toString(),
    });
    expect(sms.status).toBe(200);
    const afterStop = await eventually(async () => {
      const response = await get(`/v1/profiles/${lookup.customerId}/consent`);
      const body = (await response.json()) as ConsentAnswer;
      return body.history.length >= 3 && body.current['phone_marketing']?.granted === false
        ? body
        : undefined;
    });
    expect(afterStop.history.map((h) => [h.purpose, h.granted, h.source, h.eventType])).toEqual([
      ['phone_marketing', false, 'phone', 'ConsentChanged'],
      ['phone_marketing', true, 'phone', 'ConsentChanged'],
      ['phone_marketing', false, 'sms-stop', 'SmsReceived'],
    ]);
    expect(afterStop.marketing.phoneOk).toBe(false);
    // The text itself is personal: it is nowhere in the log.
    expect(touchline.server.output.join('\n')).not.toContain(phone);

    // Bad requests: no statement accepted (400 naming the field), a body that is not a
    // statement, a web (public) write key, no key.
    const unnamed = await consentApi({ purpose: 'analytics', granted: true, source: 'admin' });
    expect(unnamed.status).toBe(400);
    expect(JSON.stringify(await unnamed.json())).toContain(
      'must name the customer: email, phone, externalId, userId or anonymousId',
    );
    const badPhone = await consentApi({
      phone: 'call me',
      purpose: 'phone_marketing',
      granted: true,
      source: 'phone',
    });
    expect(badPhone.status).toBe(400);
    const badPhoneBody = JSON.stringify(await badPhone.json());
    expect(badPhoneBody).toContain('"path":"phone"');
    expect(badPhoneBody).not.toContain('call me');
    expect((await consentApi({ batch: [] })).status).toBe(400);
    expect((await consentApi([1, 2])).status).toBe(400);
    expect(
      (
        await consentApi(
          { phone, purpose: 'analytics', granted: true, source: 'admin' },
          touchline.writeKey,
        )
      ).status,
    ).toBe(403);
    const anonymous = await fetch(`${touchline.server.url}/v1/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(anonymous.status).toBe(401);
  });
});
