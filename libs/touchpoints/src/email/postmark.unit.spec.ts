import { randomUUID } from 'node:crypto';

import { receivePostmarkWebhook, TouchpointError } from '../index';
import { basicAuthHeader, catalogMismatches } from '../testing';

const now = new Date('2024-05-01T10:00:00Z');

// Shaped after Postmark's documented webhook examples.
const messageId = () => randomUUID();
const common = () => ({
  MessageStream: 'outbound',
  Tag: 'welcome',
  Metadata: { campaign_id: 'c-9', a_key: 'a_value' },
  MessageID: messageId(),
});
const records: Record<string, () => Record<string, unknown>> = {
  Delivery: () => ({
    ...common(),
    RecordType: 'Delivery',
    ServerID: 23,
    Recipient: 'John@Example.com',
    DeliveredAt: '2024-05-01T09:58:01.1234567Z',
    Details: 'Test delivery webhook details',
  }),
  Bounce: () => ({
    ...common(),
    RecordType: 'Bounce',
    ID: 42,
    Type: 'HardBounce',
    TypeCode: 1,
    Name: 'Hard bounce',
    Description: 'The server was unable to deliver your message',
    Details: '550 no such user',
    Email: 'John@Example.com',
    From: 'sender@example.com',
    BouncedAt: '2024-05-01T09:58:02Z',
    Inactive: true,
  }),
  SoftBounce: () => ({
    ...common(),
    RecordType: 'Bounce',
    ID: 43,
    Type: 'SoftBounce',
    TypeCode: 4096,
    Email: 'john@example.com',
    BouncedAt: '2024-05-01T09:58:02Z',
  }),
  Open: () => ({
    ...common(),
    RecordType: 'Open',
    FirstOpen: true,
    Client: { Name: 'Chrome' },
    OS: { Name: 'Linux' },
    Platform: 'WebMail',
    UserAgent: 'Mozilla/5.0',
    Geo: { IP: '188.2.95.4', Country: 'Serbia' },
    ReceivedAt: '2024-05-01T09:59:00Z',
    Recipient: 'john@example.com',
  }),
  Click: () => ({
    ...common(),
    RecordType: 'Click',
    ClickLocation: 'HTML',
    Platform: 'Desktop',
    UserAgent: 'Mozilla/5.0',
    OriginalLink: 'https://example.com/welcome',
    ReceivedAt: '2024-05-01T09:59:30Z',
    Recipient: 'john@example.com',
  }),
  SpamComplaint: () => ({
    ...common(),
    RecordType: 'SpamComplaint',
    ID: 44,
    Type: 'SpamComplaint',
    TypeCode: 512,
    Email: 'john@example.com',
    BouncedAt: '2024-05-01T10:00:00Z',
  }),
  SubscriptionChange: () => ({
    ...common(),
    RecordType: 'SubscriptionChange',
    ServerID: 23,
    ChangedAt: '2024-05-01T10:00:00Z',
    Recipient: 'john@example.com',
    Origin: 'Recipient',
    SuppressSending: true,
    SuppressionReason: 'ManualSuppression',
  }),
};

describe('Postmark webhooks', () => {
  const credentials = { username: 'postmark', password: randomUUID() };
  const headers = basicAuthHeader(credentials.username, credentials.password);
  const context = { sourceId: randomUUID(), receivedAt: now };
  const receive = (record: unknown, h: Record<string, string> = headers) =>
    receivePostmarkWebhook(
      { rawBody: JSON.stringify(record), headers: h },
      { credentials },
      context,
    );

  it.each([
    ['Delivery', 'EmailDelivered', { smtpResponse: 'Test delivery webhook details' }],
    [
      'Bounce',
      'EmailBounced',
      { bounceType: 'hard', providerBounceType: 'HardBounce', providerEventId: '42' },
    ],
    ['SoftBounce', 'EmailBounced', { bounceType: 'soft' }],
    ['Open', 'EmailOpened', { ipAddress: '188.2.95.4', userAgent: 'Mozilla/5.0' }],
    ['Click', 'EmailLinkClicked', { url: 'https://example.com/welcome' }],
    ['SpamComplaint', 'EmailMarkedAsSpam', {}],
    ['SubscriptionChange', 'EmailUnsubscribed', { scope: 'list', listId: 'outbound' }],
  ])('maps %s to %s', (name, type, data) => {
    const result = receive(records[name]!());
    expect(result.rejected).toEqual([]);
    const [event] = result.events;
    expect(event).toMatchObject({ type, identifiers: { email: 'john@example.com' } });
    expect(event!.data).toMatchObject({
      provider: 'postmark',
      campaignId: 'c-9',
      tags: ['welcome'],
      ...data,
    });
    expect(catalogMismatches(event!)).toEqual([]);
  });

  it('takes the event time from the record', () => {
    expect(receive(records['Delivery']!()).events[0]?.occurredAt).toEqual(
      new Date('2024-05-01T09:58:01.123Z'),
    );
  });

  it('ignores suppressions caused by bounces and reactivations, with a reason', () => {
    const byBounce = receive({
      ...records['SubscriptionChange']!(),
      SuppressionReason: 'HardBounce',
    });
    const reactivated = receive({ ...records['SubscriptionChange']!(), SuppressSending: false });
    const autoResponder = receive({ ...records['Bounce']!(), Type: 'AutoResponder' });
    for (const result of [byBounce, reactivated, autoResponder]) {
      expect(result.events).toEqual([]);
      expect(result.ignored).toHaveLength(1);
    }
  });

  it('refuses missing, wrong and malformed credentials before reading the body', () => {
    const code = (h: Record<string, string>, body: unknown = records['Delivery']!()): string => {
      try {
        receive(body, h);
        return 'accepted';
      } catch (error: unknown) {
        if (error instanceof TouchpointError) return error.code;
        throw error;
      }
    };
    expect(code(headers)).toBe('accepted');
    expect(code({})).toBe('INVALID_CREDENTIALS');
    expect(code(basicAuthHeader('postmark', 'wrong'))).toBe('INVALID_CREDENTIALS');
    expect(code(basicAuthHeader('someone', credentials.password))).toBe('INVALID_CREDENTIALS');
    expect(code({ Authorization: 'Basic !!!' })).toBe('INVALID_CREDENTIALS');
    expect(code({ Authorization: `Bearer ${credentials.password}` })).toBe('INVALID_CREDENTIALS');
    expect(code({}, 'garbage')).toBe('INVALID_CREDENTIALS');
  });

  it('rejects a record that lacks its address or time, naming the field', () => {
    const { Recipient: _r, ...noRecipient } = records['Delivery']!();
    expect(receive(noRecipient).rejected[0]?.errors).toEqual([
      expect.objectContaining({ path: 'Recipient', rule: 'required' }),
    ]);
    expect(
      receive({ ...records['Open']!(), ReceivedAt: '2024-05-01 09:59' }).rejected[0]?.errors,
    ).toEqual([expect.objectContaining({ path: 'ReceivedAt', rule: 'timestamp' })]);
  });
});
