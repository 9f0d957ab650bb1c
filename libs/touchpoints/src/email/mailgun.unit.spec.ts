import { randomUUID } from 'node:crypto';

import {
  InMemorySeenTokenStore,
  receiveMailgunWebhook,
  TouchpointError,
  type MailgunWebhookConfig,
} from '../index';
import { catalogMismatches, mailgunSignature } from '../testing';

const now = new Date('2024-05-01T10:00:00Z');
const ts = Math.floor(now.getTime() / 1000);

// Shaped after Mailgun's documented webhook payloads (signature + event-data).
function eventData(event: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: `mg-${randomUUID()}`,
    timestamp: ts - 30 + 0.908181,
    'log-level': 'info',
    event,
    recipient: 'Alice@Example.com',
    tags: ['newsletter'],
    'user-variables': { campaign_id: 'c-7' },
    message: {
      headers: {
        to: 'Alice <alice@example.com>',
        'message-id': '20240501100000.1.ABC@mg.example.com',
        from: 'shop@mg.example.com',
        subject: 'Hi',
      },
    },
    ...extra,
  };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error: unknown) {
    if (error instanceof TouchpointError) return error.code;
    throw error;
  }
}

describe('Mailgun webhooks', () => {
  const signingKey = randomUUID();
  const config = (): MailgunWebhookConfig => ({
    signingKeys: signingKey,
    seenTokens: new InMemorySeenTokenStore(() => now),
  });
  const context = { sourceId: randomUUID(), receivedAt: now };
  const body = (data: unknown, signature = mailgunSignature(signingKey, ts)) => ({
    rawBody: JSON.stringify({ signature, 'event-data': data }),
  });

  it.each([
    ['accepted', {}, 'EmailSent', {}],
    [
      'delivered',
      { 'delivery-status': { code: 250, message: 'OK', 'attempt-no': 1 } },
      'EmailDelivered',
      { smtpResponse: 'OK' },
    ],
    [
      'opened',
      { ip: '50.56.129.169', 'client-info': { 'user-agent': 'Mozilla/5.0' } },
      'EmailOpened',
      { ipAddress: '50.56.129.169', userAgent: 'Mozilla/5.0' },
    ],
    [
      'clicked',
      { url: 'https://example.com/offer', ip: '50.56.129.169' },
      'EmailLinkClicked',
      { url: 'https://example.com/offer' },
    ],
    [
      'failed',
      {
        severity: 'permanent',
        reason: 'bounce',
        'delivery-status': { code: 550, message: 'No such user' },
      },
      'EmailBounced',
      { bounceType: 'hard', reason: 'No such user' },
    ],
    ['failed', { severity: 'permanent', reason: 'old' }, 'EmailBounced', { bounceType: 'soft' }],
    [
      'failed',
      { severity: 'permanent', reason: 'suppress-bounce' },
      'EmailDropped',
      { reason: 'suppress-bounce' },
    ],
    [
      'failed',
      {
        severity: 'temporary',
        reason: 'generic',
        'delivery-status': { code: 452, message: 'Mailbox full', 'attempt-no': 2 },
      },
      'EmailDeferred',
      { attempt: 2 },
    ],
    [
      'rejected',
      { reject: { reason: 'Sandbox subdomains are for test purposes only' } },
      'EmailDropped',
      {},
    ],
    ['complained', {}, 'EmailMarkedAsSpam', {}],
    ['unsubscribed', {}, 'EmailUnsubscribed', { scope: 'all' }],
  ])('maps %s %j to %s', async (event, extra, type, data) => {
    const result = await receiveMailgunWebhook(body(eventData(event, extra)), config(), context);
    expect(result.rejected).toEqual([]);
    expect(result.events).toHaveLength(1);
    const [mapped] = result.events;
    expect(mapped).toMatchObject({
      type,
      identifiers: { email: 'alice@example.com' },
      occurredAt: new Date((ts - 30) * 1000 + 908),
    });
    expect(mapped!.data).toMatchObject({
      provider: 'mailgun',
      campaignId: 'c-7',
      tags: ['newsletter'],
      messageId: '20240501100000.1.ABC@mg.example.com',
      ...data,
    });
    expect(catalogMismatches(mapped!)).toEqual([]);
  });

  it('refuses a bad signature, a wrong key, a stale or future timestamp, a replayed token, a missing signature', async () => {
    const data = eventData('delivered');
    const good = mailgunSignature(signingKey, ts);
    expect(
      await code(
        receiveMailgunWebhook(
          body(data, {
            ...good,
            signature: good.signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
          }),
          config(),
          context,
        ),
      ),
    ).toBe('INVALID_SIGNATURE');
    expect(
      await code(
        receiveMailgunWebhook(body(data, mailgunSignature(randomUUID(), ts)), config(), context),
      ),
    ).toBe('INVALID_SIGNATURE');
    expect(
      await code(
        receiveMailgunWebhook(body(data, { ...good, token: 'other-token' }), config(), context),
      ),
    ).toBe('INVALID_SIGNATURE');
    expect(
      await code(
        receiveMailgunWebhook(
          body(data, mailgunSignature(signingKey, ts - 601)),
          config(),
          context,
        ),
      ),
    ).toBe('STALE_TIMESTAMP');
    expect(
      await code(
        receiveMailgunWebhook(
          body(data, mailgunSignature(signingKey, ts + 601)),
          config(),
          context,
        ),
      ),
    ).toBe('STALE_TIMESTAMP');
    expect(
      await code(
        receiveMailgunWebhook(
          body(data, mailgunSignature(signingKey, ts - 100)),
          { ...config(), toleranceSeconds: 60 },
          context,
        ),
      ),
    ).toBe('STALE_TIMESTAMP');
    expect(
      await code(
        receiveMailgunWebhook(
          { rawBody: JSON.stringify({ 'event-data': data }) },
          config(),
          context,
        ),
      ),
    ).toBe('MISSING_SIGNATURE');
    expect(await code(receiveMailgunWebhook({ rawBody: 'token=abc' }, config(), context))).toBe(
      'MALFORMED_REQUEST',
    );

    const shared = config();
    expect(await code(receiveMailgunWebhook(body(data, good), shared, context))).toBe('accepted');
    expect(await code(receiveMailgunWebhook(body(data, good), shared, context))).toBe(
      'REPLAYED_TOKEN',
    );
    // A request that could not be stored releases its token, so the provider's retry is accepted.
    await shared.seenTokens.release(good.token);
    expect(await code(receiveMailgunWebhook(body(data, good), shared, context))).toBe('accepted');
  });

  it('does not let a forged request burn a token', async () => {
    const shared = config();
    const good = mailgunSignature(signingKey, ts);
    expect(
      await code(
        receiveMailgunWebhook(
          body(eventData('opened'), { ...good, signature: 'f'.repeat(64) }),
          shared,
          context,
        ),
      ),
    ).toBe('INVALID_SIGNATURE');
    expect(
      await code(receiveMailgunWebhook(body(eventData('opened'), good), shared, context)),
    ).toBe('accepted');
  });

  it('rotates signing keys', async () => {
    const rotating = { ...config(), signingKeys: [randomUUID(), signingKey] };
    expect(
      (await receiveMailgunWebhook(body(eventData('opened')), rotating, context)).events,
    ).toHaveLength(1);
  });

  it('rejects a verified but invalid event with field and rule, and ignores a non-touchpoint event', async () => {
    const bad = await receiveMailgunWebhook(
      body({ ...eventData('failed'), recipient: 42 }),
      config(),
      context,
    );
    expect(bad.rejected[0]?.errors.map((e) => `${e.path}:${e.rule}`)).toEqual([
      'event-data.recipient:type',
    ]);
    const noSeverity = await receiveMailgunWebhook(body(eventData('failed')), config(), context);
    expect(noSeverity.rejected[0]?.errors.map((e) => `${e.path}:${e.rule}`)).toEqual([
      'event-data.severity:required',
    ]);
    const stored = await receiveMailgunWebhook(body(eventData('stored')), config(), context);
    expect(stored.ignored).toHaveLength(1);
  });

  it('keeps at most maxEntries tokens, forgetting expired and then oldest ones', async () => {
    let clock = now;
    const store = new InMemorySeenTokenStore(() => clock, 3);
    for (const t of ['a', 'b', 'c', 'd'])
      expect(await store.claim(t, new Date(now.getTime() + 1000))).toBe(true);
    expect(store.size).toBe(3);
    expect(await store.claim('d', new Date(now.getTime() + 1000))).toBe(false);
    clock = new Date(now.getTime() + 2000);
    expect(await store.claim('d', new Date(clock.getTime() + 1000))).toBe(true);
    expect(store.size).toBe(1);
  });
});
