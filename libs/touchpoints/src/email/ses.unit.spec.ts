import { randomUUID } from 'node:crypto';

import { receiveSesWebhook, TouchpointError, type SnsVerificationConfig } from '../index';
import { catalogMismatches, createTestCertificate, signSnsMessage } from '../testing';

const now = new Date('2024-05-01T10:00:00Z');
const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ses-events';
const certUrl =
  'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem';
const cert = createTestCertificate({
  notBefore: new Date('2024-01-01T00:00:00Z'),
  notAfter: new Date('2025-01-01T00:00:00Z'),
});

function setup(pem = cert.certificatePem): { config: SnsVerificationConfig; fetched: string[] } {
  const fetched: string[] = [];
  return {
    fetched,
    config: {
      topicArns: [topicArn],
      fetchCertificate: (url) => {
        fetched.push(url);
        return Promise.resolve(pem);
      },
    },
  };
}
const context = () => ({ sourceId: randomUUID(), receivedAt: now });

// SES event publishing records, after the SES developer guide's examples.
const mail = (messageId = `0102-${randomUUID()}`) => ({
  timestamp: '2024-05-01T09:59:00.000Z',
  source: 'Sender <sender@example.com>',
  messageId,
  destination: ['Recipient@Example.com'],
  tags: { 'ses:configuration-set': ['ConfigSet'], campaign_id: ['c-5'], team: ['growth'] },
});
const sesEvents: Record<string, Record<string, unknown>> = {
  Send: { eventType: 'Send', mail: mail(), send: {} },
  Delivery: {
    eventType: 'Delivery',
    mail: mail(),
    delivery: {
      timestamp: '2024-05-01T09:59:02.000Z',
      processingTimeMillis: 546,
      recipients: ['recipient@example.com'],
      smtpResponse: '250 2.6.0 Message received',
    },
  },
  BounceHard: {
    eventType: 'Bounce',
    mail: mail(),
    bounce: {
      bounceType: 'Permanent',
      bounceSubType: 'General',
      bouncedRecipients: [
        {
          emailAddress: 'recipient@example.com',
          action: 'failed',
          status: '5.1.1',
          diagnosticCode: 'smtp; 550 5.1.1 user unknown',
        },
      ],
      timestamp: '2024-05-01T09:59:03.000Z',
      feedbackId: `fb-${randomUUID()}`,
    },
  },
  BounceSoft: {
    notificationType: 'Bounce',
    mail: mail(),
    bounce: {
      bounceType: 'Transient',
      bounceSubType: 'MailboxFull',
      bouncedRecipients: [{ emailAddress: 'recipient@example.com' }],
      timestamp: '2024-05-01T09:59:03.000Z',
      feedbackId: `fb-${randomUUID()}`,
    },
  },
  Complaint: {
    eventType: 'Complaint',
    mail: mail(),
    complaint: {
      complainedRecipients: [{ emailAddress: 'recipient@example.com' }],
      timestamp: '2024-05-01T09:59:04.000Z',
      feedbackId: `fb-${randomUUID()}`,
      complaintFeedbackType: 'abuse',
    },
  },
  Open: {
    eventType: 'Open',
    mail: mail(),
    open: {
      ipAddress: '192.0.2.1',
      timestamp: '2024-05-01T09:59:05.000Z',
      userAgent: 'Mozilla/5.0',
    },
  },
  Click: {
    eventType: 'Click',
    mail: mail(),
    click: {
      ipAddress: '192.0.2.1',
      link: 'https://example.com/offer',
      linkTags: {},
      timestamp: '2024-05-01T09:59:06.000Z',
      userAgent: 'Mozilla/5.0',
    },
  },
  Reject: { eventType: 'Reject', mail: mail(), reject: { reason: 'Bad content' } },
  DeliveryDelay: {
    eventType: 'DeliveryDelay',
    mail: mail(),
    deliveryDelay: {
      timestamp: '2024-05-01T09:59:07.000Z',
      delayType: 'MailboxFull',
      expirationTime: '2024-05-01T21:59:07.000Z',
      delayedRecipients: [
        {
          emailAddress: 'recipient@example.com',
          status: '4.2.2',
          diagnosticCode: 'smtp; 452 4.2.2 mailbox full',
        },
      ],
    },
  },
  Subscription: {
    eventType: 'Subscription',
    mail: mail(),
    subscription: {
      contactList: 'News',
      timestamp: '2024-05-01T09:59:08.000Z',
      source: 'UnsubscribeHeader',
      newTopicPreferences: { unsubscribeAll: true, topicSubscriptionStatus: [] },
    },
  },
};

function notification(
  message: unknown,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: topicArn,
    Message: typeof message === 'string' ? message : JSON.stringify(message),
    Timestamp: '2024-05-01T09:59:10.000Z',
    SigningCertURL: certUrl,
    UnsubscribeURL: `https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${topicArn}:x`,
    ...overrides,
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

describe('Amazon SES through SNS', () => {
  it.each([
    ['Send', 'EmailSent', {}],
    ['Delivery', 'EmailDelivered', { smtpResponse: '250 2.6.0 Message received' }],
    [
      'BounceHard',
      'EmailBounced',
      {
        bounceType: 'hard',
        providerBounceType: 'Permanent/General',
        reason: 'smtp; 550 5.1.1 user unknown',
      },
    ],
    [
      'BounceSoft',
      'EmailBounced',
      { bounceType: 'soft', providerBounceType: 'Transient/MailboxFull' },
    ],
    ['Complaint', 'EmailMarkedAsSpam', { feedbackType: 'abuse' }],
    ['Open', 'EmailOpened', { ipAddress: '192.0.2.1' }],
    ['Click', 'EmailLinkClicked', { url: 'https://example.com/offer' }],
    ['Reject', 'EmailDropped', { reason: 'Bad content' }],
    ['DeliveryDelay', 'EmailDeferred', { reason: 'smtp; 452 4.2.2 mailbox full' }],
    ['Subscription', 'EmailUnsubscribed', { scope: 'all', listId: 'News' }],
  ])('verifies a signed notification and maps SES %s to %s', async (name, type, data) => {
    const { config, fetched } = setup();
    const body = signSnsMessage(notification(sesEvents[name]), cert.privateKey, '1');
    const result = await receiveSesWebhook({ rawBody: JSON.stringify(body) }, config, context());
    expect(fetched).toEqual([certUrl]);
    expect(result.kind).toBe('events');
    if (result.kind !== 'events') return;
    expect(result.result.rejected).toEqual([]);
    const [event] = result.result.events;
    expect(event).toMatchObject({ type, identifiers: { email: 'recipient@example.com' } });
    expect(event!.data).toMatchObject({
      provider: 'ses',
      campaignId: 'c-5',
      tags: ['team:growth'],
      ...data,
    });
    expect(catalogMismatches(event!)).toEqual([]);
  });

  it('accepts SignatureVersion 2 and gives a redelivered notification the same ids', async () => {
    const { config } = setup();
    const body = JSON.stringify(
      signSnsMessage(notification(sesEvents['BounceHard']), cert.privateKey, '2'),
    );
    const ctx = context();
    const a = await receiveSesWebhook({ rawBody: body }, config, ctx);
    const b = await receiveSesWebhook({ rawBody: Buffer.from(body) }, config, ctx);
    expect(a.kind === 'events' && a.result.events.map((e) => e.eventId)).toEqual(
      b.kind === 'events' && b.result.events.map((e) => e.eventId),
    );
    expect(a.kind === 'events' && a.result.events[0]?.occurredAt).toEqual(
      new Date('2024-05-01T09:59:03.000Z'),
    );
  });

  it('returns a subscription confirmation for the caller to follow, fetching nothing but the certificate', async () => {
    const { config, fetched } = setup();
    const subscribeUrl = `https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${topicArn}&Token=abc`;
    const body = signSnsMessage(
      {
        Type: 'SubscriptionConfirmation',
        MessageId: randomUUID(),
        Token: 'abc',
        TopicArn: topicArn,
        Message: 'You have chosen to subscribe',
        SubscribeURL: subscribeUrl,
        Timestamp: '2024-05-01T09:00:00.000Z',
        SigningCertURL: certUrl,
      },
      cert.privateKey,
    );
    expect(await receiveSesWebhook({ rawBody: JSON.stringify(body) }, config, context())).toEqual({
      kind: 'confirm-subscription',
      topicArn,
      subscribeUrl,
    });
    expect(fetched).toEqual([certUrl]);
    const evil = signSnsMessage(
      { ...body, SubscribeURL: 'https://evil.example.net/confirm' },
      cert.privateKey,
    );
    expect(
      await code(receiveSesWebhook({ rawBody: JSON.stringify(evil) }, config, context())),
    ).toBe('UNTRUSTED_CERTIFICATE_URL');
  });

  it.each([
    'http://sns.eu-west-1.amazonaws.com/cert.pem',
    'https://sns.eu-west-1.amazonaws.com.evil.example.net/cert.pem',
    'https://evil.example.net/sns.eu-west-1.amazonaws.com/cert.pem',
    'https://sns.us-east-1.amazonaws.com/cert.pem',
    'https://sns.eu-west-1.amazonaws.com:8443/cert.pem',
    'https://sns.eu-west-1.amazonaws.com/cert.txt',
    'https://user@sns.eu-west-1.amazonaws.com/cert.pem',
  ])('never fetches an untrusted SigningCertURL: %s', async (url) => {
    const { config, fetched } = setup();
    const body = signSnsMessage(
      notification(sesEvents['Send'], { SigningCertURL: url }),
      cert.privateKey,
    );
    expect(
      await code(receiveSesWebhook({ rawBody: JSON.stringify(body) }, config, context())),
    ).toBe('UNTRUSTED_CERTIFICATE_URL');
    expect(fetched).toEqual([]);
  });

  it('refuses a tampered message, another key, an unknown topic, an expired certificate, and unsigned or garbage bodies', async () => {
    const { config } = setup();
    const signed = signSnsMessage(notification(sesEvents['Complaint']), cert.privateKey);
    const other = createTestCertificate({
      notBefore: new Date('2024-01-01T00:00:00Z'),
      notAfter: new Date('2025-01-01T00:00:00Z'),
    });
    const receive = (body: unknown, c = config) =>
      code(
        receiveSesWebhook(
          { rawBody: typeof body === 'string' ? body : JSON.stringify(body) },
          c,
          context(),
        ),
      );
    expect(await receive(signed)).toBe('accepted');
    expect(
      await receive({
        ...signed,
        Message: (signed.Message ?? '').replace('recipient@', 'victim@'),
      }),
    ).toBe('INVALID_SIGNATURE');
    expect(await receive({ ...signed, Timestamp: '2024-05-01T09:59:11.000Z' })).toBe(
      'INVALID_SIGNATURE',
    );
    expect(
      await receive(signSnsMessage(notification(sesEvents['Complaint']), other.privateKey)),
    ).toBe('INVALID_SIGNATURE');
    expect(await receive({ ...signed, SignatureVersion: '3' })).toBe('INVALID_SIGNATURE');
    expect(
      await receive(
        signSnsMessage(
          notification(sesEvents['Complaint'], {
            TopicArn: 'arn:aws:sns:eu-west-1:999999999999:someone-else',
          }),
          cert.privateKey,
        ),
      ),
    ).toBe('UNKNOWN_TOPIC');
    const expired = createTestCertificate({
      notBefore: new Date('2023-01-01T00:00:00Z'),
      notAfter: new Date('2024-01-01T00:00:00Z'),
    });
    expect(
      await receive(
        signSnsMessage(notification(sesEvents['Complaint']), expired.privateKey),
        setup(expired.certificatePem).config,
      ),
    ).toBe('INVALID_CERTIFICATE');
    expect(await receive(signed, setup('not a certificate').config)).toBe('INVALID_CERTIFICATE');
    const failing: SnsVerificationConfig = {
      topicArns: [topicArn],
      fetchCertificate: () => Promise.reject(new Error('ECONNRESET')),
    };
    expect(await receive(signed, failing)).toBe('CERTIFICATE_UNAVAILABLE');
    const { Signature: _s, ...unsigned } = signed;
    expect(await receive(unsigned)).toBe('MISSING_SIGNATURE');
    expect(await receive('garbage')).toBe('MALFORMED_REQUEST');
    expect(await receive({ Type: 'Nope' })).toBe('MALFORMED_REQUEST');
  });

  it('rejects a verified notification whose SES event is malformed, naming the field', async () => {
    const { config } = setup();
    const broken = {
      ...sesEvents['BounceHard'],
      bounce: {
        bounceType: 'Sideways',
        bouncedRecipients: [{ emailAddress: 'nope' }],
        timestamp: 'x',
        feedbackId: 'f',
      },
    };
    const result = await receiveSesWebhook(
      { rawBody: JSON.stringify(signSnsMessage(notification(broken), cert.privateKey)) },
      config,
      context(),
    );
    expect(
      result.kind === 'events' &&
        result.result.rejected[0]?.errors.map((e) => `${e.path}:${e.rule}`),
    ).toEqual([
      'bounce.timestamp:timestamp',
      'bounce.bounceType:enum',
      'bounce.bouncedRecipients[0].emailAddress:email',
    ]);
    const notJson = await receiveSesWebhook(
      { rawBody: JSON.stringify(signSnsMessage(notification('plain text'), cert.privateKey)) },
      config,
      context(),
    );
    expect(notJson.kind === 'events' && notJson.result.rejected[0]?.errors[0]?.rule).toBe('json');
  });
});
