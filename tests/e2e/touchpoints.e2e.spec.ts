import { randomUUID } from 'node:crypto';
import { computeTwilioSignature, signTrackedLink } from '@touchline/touchpoints';
import { createSendGridTestKeys, sendGridSignatureHeaders } from '@touchline/touchpoints/testing';
import type { Client } from 'pg';
import { type EmbeddedTouchline, startEmbeddedTouchline } from './support/embedded-touchline';
import { storedStreamId } from './support/pseudonym';
import { basicAuth, eventually, type ServerProcess } from './support/server-process';

/**
 * Email, phone and other touchpoints over HTTP, each provider's authentication checked for real:
 * signed webhooks stored as normalized events, bad signatures refused with nothing stored,
 * tracked links redirected only when signed.
 */
describe('email, phone and other touchpoints, embedded mode', () => {
  const sendgrid = createSendGridTestKeys();
  const twilioToken = `twilio-${randomUUID()}`;
  const linkSecret = `links-${randomUUID()}`;
  let touchline: EmbeddedTouchline;
  let server: ServerProcess;
  let apiKey: string;
  let sql: Client;
  const writeKeys: Record<string, string> = {};

  const admin = (route: string, body: unknown) =>
    fetch(`${server.url}${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const storedTypes = async (streamId: string): Promise<string[]> =>
    (
      await sql.query<{ type: string }>(
        'SELECT event_type AS type FROM event_store.events WHERE stream_id = $1 ORDER BY event_type',
        // Stored under the identifier's pseudonym (crypto-shredding).
        [storedStreamId(touchline.dataDir, streamId)],
      )
    ).rows.map((r) => r.type);

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('touchpoints', {
      SENDGRID_WEBHOOK_PUBLIC_KEY: sendgrid.publicKeyBase64,
      TWILIO_AUTH_TOKEN: twilioToken,
      TOUCHLINE_LINK_SECRETS: linkSecret,
    });
    ({ server, apiKey, sql } = touchline);
    for (const [sourceId, channel] of [
      ['mail', 'email'],
      ['voice', 'phone'],
      ['crm', 'other'],
    ] as const) {
      const response = await admin('/v1/admin/sources', { sourceId, channel });
      expect(response.status).toBe(201);
      writeKeys[sourceId] = ((await response.json()) as { key: string }).key;
    }
  });

  afterAll(async () => {
    await touchline?.stop();
  });

  it('stores signed SendGrid events under the normalized recipient, and refuses a tampered body', async () => {
    const recipient = `Ada.${randomUUID().slice(0, 8)}@Example.com`;
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify([
      {
        email: recipient,
        timestamp: now - 60,
        event: 'delivered',
        sg_event_id: `d-${randomUUID()}`,
        sg_message_id: 'msg-1',
      },
      {
        email: recipient,
        timestamp: now - 30,
        event: 'bounce',
        type: 'bounce',
        reason: '550 no such user',
        sg_event_id: `b-${randomUUID()}`,
        sg_message_id: 'msg-1',
      },
    ]);
    const headers = {
      'content-type': 'application/json',
      ...sendGridSignatureHeaders(body, now, sendgrid.privateKey),
    };
    const tampered = await fetch(`${server.url}/v1/webhooks/sendgrid/mail`, {
      method: 'POST',
      headers,
      body: body.replace('delivered', 'open'),
    });
    expect(tampered.status).toBe(401);
    const accepted = await fetch(`${server.url}/v1/webhooks/sendgrid/mail`, {
      method: 'POST',
      headers,
      body,
    });
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ accepted: 2, rejected: 0 });
    // A provider retry of the same request stores nothing twice.
    expect(
      (await fetch(`${server.url}/v1/webhooks/sendgrid/mail`, { method: 'POST', headers, body }))
        .status,
    ).toBe(200);
    const streamId = `email:${recipient.toLowerCase()}`;
    const types = await eventually(async () => {
      const found = await storedTypes(streamId);
      return found.length >= 2 ? found : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storedTypes(streamId)).toEqual(['EmailBounced', 'EmailDelivered']);
    expect(types).toHaveLength(2);
    const summary = await eventually(async () => {
      const response = await fetch(`${server.url}/v1/customers/${encodeURIComponent(streamId)}`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      return response.status === 200
        ? ((await response.json()) as { eventsByChannel: { email: number } })
        : undefined;
    });
    expect(summary.eventsByChannel.email).toBe(2);
  });

  it('stores a Twilio call only with a valid X-Twilio-Signature, with the number in E.164', async () => {
    const form = new URLSearchParams({
      CallSid: `CA${randomUUID().replace(/-/g, '')}`,
      CallStatus: 'completed',
      CallDuration: '95',
      Direction: 'inbound',
      From: '+14155550123',
      To: '+14155550100',
      Timestamp: new Date().toUTCString(),
    });
    const route = '/v1/webhooks/twilio/voice/voice';
    const params = Object.fromEntries([...form.keys()].map((key) => [key, form.getAll(key)]));
    const signature = computeTwilioSignature(twilioToken, `${server.url}${route}`, params);
    const post = (sig: string) =>
      fetch(`${server.url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig },
        body: form.toString(),
      });
    expect((await post('bm90IGEgc2lnbmF0dXJl')).status).toBe(401);
    const accepted = await post(signature);
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ accepted: 1 });
    await eventually(async () =>
      (await storedTypes('phone:+14155550123')).includes('CallEnded') ? true : undefined,
    );
  });

  it('records contacts from a CRM with per-item errors, and needs the write key of an other-channel source', async () => {
    const email = `grace.${randomUUID().slice(0, 8)}@example.com`;
    const body = {
      contacts: [
        {
          id: `v-${randomUUID()}`,
          type: 'store.visit',
          occurredAt: '2026-11-01T10:00:00Z',
          customer: { email },
          storeId: 'store-9',
          topic: 'returns',
        },
        {
          id: `t-${randomUUID()}`,
          type: 'support.ticket.resolved',
          occurredAt: '2026-11-01T11:00:00Z',
          customer: { email },
        },
      ],
    };
    const post = (key: string) =>
      fetch(`${server.url}/v1/contacts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(key) },
        body: JSON.stringify(body),
      });
    expect((await post(writeKeys['mail']!)).status).toBe(403);
    const response = await post(writeKeys['crm']!);
    expect(response.status).toBe(200);
    const outcome = (await response.json()) as {
      accepted: number;
      rejected: number;
      errors: Array<{ errors: Array<{ path: string; rule: string }> }>;
    };
    expect(outcome).toMatchObject({ accepted: 1, rejected: 1 });
    expect(outcome.errors[0]?.errors[0]).toMatchObject({ rule: 'required' });
    await eventually(async () =>
      (await storedTypes(`email:${email}`)).includes('StoreVisited') ? true : undefined,
    );
  });

  it('redirects a signed tracked link and records the click; refuses and never redirects a tampered one', async () => {
    const recipient = `click.${randomUUID().slice(0, 8)}@example.com`;
    const { query } = signTrackedLink(
      { url: 'https://shop.example/offer', recipient, campaignId: 'autumn', messageId: 'm-1' },
      linkSecret,
    );
    const ok = await fetch(`${server.url}/v1/t/click?${query}`, { redirect: 'manual' });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe('https://shop.example/offer');
    const forged = query.replace(
      encodeURIComponent('https://shop.example/offer'),
      encodeURIComponent('https://evil.example/'),
    );
    const refused = await fetch(`${server.url}/v1/t/click?${forged}`, { redirect: 'manual' });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('location')).toBeNull();
    await eventually(async () =>
      (await storedTypes(`email:${recipient}`)).includes('EmailLinkClicked') ? true : undefined,
    );
  });

  it('answers 404 naming the setting for a provider that is not configured, and for an unknown source', async () => {
    const mailgun = await fetch(`${server.url}/v1/webhooks/mailgun/mail`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(mailgun.status).toBe(404);
    expect(await mailgun.json()).toMatchObject({
      error: { message: expect.stringContaining('MAILGUN_WEBHOOK_SIGNING_KEY') as string },
    });
    const unknown = await fetch(`${server.url}/v1/webhooks/sendgrid/nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    });
    expect(unknown.status).toBe(404);
  });
});
