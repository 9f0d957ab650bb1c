import { randomUUID } from 'node:crypto';

import { receiveSendGridWebhook, TouchpointError, type MappingContext } from '../index';
import { catalogMismatches, createSendGridTestKeys, sendGridSignatureHeaders } from '../testing';

const now = new Date('2024-05-01T10:00:00Z');
const ts = Math.floor(now.getTime() / 1000);
const context = (): MappingContext => ({ sourceId: randomUUID(), receivedAt: now });

// Shaped after SendGrid's documented Event Webhook examples.
function events(email = 'Recipient@Example.com'): unknown[] {
  const base = {
    email,
    timestamp: ts - 60,
    'smtp-id': '<14c5d75ce93.dfd.64b469@ismtpd-555>',
    category: ['spring', 'promo'],
    campaign_id: 'c-42',
  };
  const sg = (n: number) => ({
    sg_event_id: `sg-event-${n}-${randomUUID()}`,
    sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
  });
  return [
    { ...base, ...sg(1), event: 'processed' },
    { ...base, ...sg(2), event: 'delivered', response: '250 OK' },
    {
      ...base,
      ...sg(3),
      event: 'open',
      useragent: 'Mozilla/4.0',
      ip: '255.255.255.255',
      sg_machine_open: false,
    },
    {
      ...base,
      ...sg(4),
      event: 'click',
      url: 'http://www.sendgrid.com/',
      useragent: 'Mozilla/4.0',
      ip: '255.255.255.255',
    },
    {
      ...base,
      ...sg(5),
      event: 'bounce',
      type: 'bounce',
      status: '5.0.0',
      reason: '500 unknown recipient',
    },
    { ...base, ...sg(6), event: 'bounce', type: 'blocked', status: '5.0.0', reason: '550 blocked' },
    { ...base, ...sg(7), event: 'deferred', response: '400 try again later', attempt: '5' },
    { ...base, ...sg(8), event: 'dropped', reason: 'Bounced Address', status: '5.0.0' },
    { ...base, ...sg(9), event: 'spamreport' },
    { ...base, ...sg(10), event: 'unsubscribe' },
    { ...base, ...sg(11), event: 'group_unsubscribe', asm_group_id: 10 },
    { ...base, ...sg(12), event: 'group_resubscribe', asm_group_id: 10 },
  ];
}

function code(fn: () => unknown): string {
  try {
    fn();
    return 'accepted';
  } catch (error: unknown) {
    if (error instanceof TouchpointError) return error.code;
    throw error;
  }
}

describe('SendGrid Event Webhook', () => {
  const keys = createSendGridTestKeys();
  const config = { publicKeys: keys.publicKeyBase64 };

  it('verifies the ECDSA signature and maps every event type into the normalized set', () => {
    const rawBody = JSON.stringify(events());
    const result = receiveSendGridWebhook(
      { rawBody, headers: sendGridSignatureHeaders(rawBody, ts, keys.privateKey) },
      config,
      context(),
    );
    expect(result.rejected).toEqual([]);
    expect(result.events.map((e) => e.type)).toEqual([
      'EmailSent',
      'EmailDelivered',
      'EmailOpened',
      'EmailLinkClicked',
      'EmailBounced',
      'EmailBounced',
      'EmailDeferred',
      'EmailDropped',
      'EmailMarkedAsSpam',
      'EmailUnsubscribed',
      'EmailUnsubscribed',
    ]);
    expect(result.ignored).toHaveLength(1);
    expect(result.ignored[0]?.index).toBe(11);
    expect(result.ignored[0]?.reason).toContain('group_resubscribe');
    for (const event of result.events) {
      expect(catalogMismatches(event)).toEqual([]);
      expect(event.identifiers.email).toBe('recipient@example.com');
      expect(event.occurredAt).toEqual(new Date((ts - 60) * 1000));
      expect(event.data).toMatchObject({
        provider: 'sendgrid',
        messageId: '14c5d75ce93.dfd.64b469',
        campaignId: 'c-42',
        tags: ['spring', 'promo'],
      });
    }
    const bounces = result.events.filter((e) => e.type === 'EmailBounced');
    expect(bounces.map((e) => e.type === 'EmailBounced' && e.data.bounceType)).toEqual([
      'hard',
      'soft',
    ]);
    const group = result.events[10];
    expect(group?.type === 'EmailUnsubscribed' && group.data).toMatchObject({
      scope: 'list',
      listId: '10',
    });
    const deferred = result.events[6];
    expect(deferred?.type === 'EmailDeferred' && deferred.data.attempt).toBe(5);
  });

  it('gives a retried delivery the same event ids', () => {
    const rawBody = JSON.stringify(events());
    const headers = sendGridSignatureHeaders(rawBody, ts, keys.privateKey);
    const ctx = context();
    const first = receiveSendGridWebhook({ rawBody, headers }, config, ctx);
    const retry = receiveSendGridWebhook({ rawBody: Buffer.from(rawBody), headers }, config, ctx);
    expect(retry.events.map((e) => e.eventId)).toEqual(first.events.map((e) => e.eventId));
    expect(new Set(first.events.map((e) => e.eventId)).size).toBe(first.events.length);
  });

  it('refuses a tampered body, a wrong key, a bad or missing signature, and a stale timestamp', () => {
    const rawBody = JSON.stringify(events());
    const headers = sendGridSignatureHeaders(rawBody, ts, keys.privateKey);
    const receive = (body: string, h: Record<string, string>, c = config) =>
      code(() => receiveSendGridWebhook({ rawBody: body, headers: h }, c, context()));
    expect(receive(rawBody, headers)).toBe('accepted');
    expect(
      receive(
        rawBody.replace('recipient@', 'attacker@').replace('Recipient@', 'Attacker@'),
        headers,
      ),
    ).toBe('INVALID_SIGNATURE');
    expect(
      receive(rawBody, headers, { publicKeys: createSendGridTestKeys().publicKeyBase64 }),
    ).toBe('INVALID_SIGNATURE');
    expect(
      receive(rawBody, { ...headers, 'X-Twilio-Email-Event-Webhook-Timestamp': String(ts + 1) }),
    ).toBe('INVALID_SIGNATURE');
    expect(
      receive(rawBody, {
        ...headers,
        'X-Twilio-Email-Event-Webhook-Signature': 'bm90IGEgc2lnbmF0dXJl',
      }),
    ).toBe('INVALID_SIGNATURE');
    expect(receive(rawBody, { ...headers, 'X-Twilio-Email-Event-Webhook-Signature': '%%%' })).toBe(
      'INVALID_SIGNATURE',
    );
    expect(receive(rawBody, {})).toBe('MISSING_SIGNATURE');
    const old = sendGridSignatureHeaders(rawBody, ts - 3600, keys.privateKey);
    expect(receive(rawBody, old)).toBe('STALE_TIMESTAMP');
    expect(receive(rawBody, old, { ...config, toleranceSeconds: null } as typeof config)).toBe(
      'accepted',
    );
  });

  it('accepts during key rotation and reports an unusable key as configuration', () => {
    const rawBody = JSON.stringify(events());
    const headers = sendGridSignatureHeaders(rawBody, ts, keys.privateKey);
    const rotating = {
      publicKeys: [createSendGridTestKeys().publicKeyBase64, keys.publicKeyBase64],
    };
    expect(receiveSendGridWebhook({ rawBody, headers }, rotating, context()).events.length).toBe(
      11,
    );
    expect(
      code(() =>
        receiveSendGridWebhook({ rawBody, headers }, { publicKeys: 'bm90IGEga2V5' }, context()),
      ),
    ).toBe('INVALID_CONFIGURATION');
  });

  it('answers per item: a bad event is rejected with field and rule, the others accepted', () => {
    const items = events();
    items[1] = { ...(items[1] as object), email: 'not an address' };
    items[3] = { ...(items[3] as object), url: undefined };
    items[4] = { ...(items[4] as object), timestamp: 'yesterday' };
    items.push('garbage');
    const rawBody = JSON.stringify(items);
    const result = receiveSendGridWebhook(
      { rawBody, headers: sendGridSignatureHeaders(rawBody, ts, keys.privateKey) },
      config,
      context(),
    );
    expect(result.events).toHaveLength(8);
    expect(
      result.rejected.map((r) => [r.index, r.errors.map((e) => `${e.path}:${e.rule}`)]),
    ).toEqual([
      [1, ['[1].email:email']],
      [3, ['[3].url:required']],
      [4, ['[4].timestamp:timestamp']],
      [12, ['[12]:type']],
    ]);
    expect(result.rejected[3]?.raw).toBe('garbage');
  });

  it('rejects a signed body that is not a JSON array as a whole', () => {
    for (const rawBody of ['{"event":"open"}', 'not json']) {
      const result = receiveSendGridWebhook(
        { rawBody, headers: sendGridSignatureHeaders(rawBody, ts, keys.privateKey) },
        config,
        context(),
      );
      expect(result.events).toEqual([]);
      expect(result.rejected).toHaveLength(1);
      expect(result.rejected[0]?.index).toBeNull();
      expect(result.rejected[0]?.raw).toBeDefined();
    }
  });
});
