import type {
  EnvelopeV1,
  UserIdentifiedV1,
  WebEventTrackedV1,
  WebPageViewedV1,
} from '../generated/types';

// Valid example values for tests: pass fresh ids per test through `overrides`.

export function aWebEventTracked(overrides: Partial<WebEventTrackedV1> = {}): WebEventTrackedV1 {
  return {
    messageId: 'msg-1',
    userId: 'user-42',
    anonymousId: null,
    event: 'Order Completed',
    properties: {
      orderId: 'o-1',
      total: 42.5,
      items: [{ sku: 'A', qty: 2 }],
      gift: false,
      coupon: null,
    },
    context: {
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0',
      library: { name: 'analytics.js', version: '2.0.0' },
    },
    integrations: { All: true },
    timestamp: new Date('2024-05-01T10:00:00.123Z'),
    sentAt: new Date('2024-05-01T10:00:01.000Z'),
    originalTimestamp: new Date('2024-05-01T09:59:58.500Z'),
    ...overrides,
  };
}

export function aWebPageViewed(overrides: Partial<WebPageViewedV1> = {}): WebPageViewedV1 {
  return {
    messageId: 'msg-2',
    userId: null,
    anonymousId: 'anon-7',
    category: 'Docs',
    name: 'Pricing',
    properties: {
      url: 'https://example.com/pricing',
      path: '/pricing',
      referrer: '',
      title: 'Pricing',
    },
    context: { ip: '198.51.100.1', page: { path: '/pricing' } },
    integrations: {},
    timestamp: new Date('2024-05-01T10:00:00.000Z'),
    sentAt: null,
    originalTimestamp: null,
    ...overrides,
  };
}

export function aUserIdentified(overrides: Partial<UserIdentifiedV1> = {}): UserIdentifiedV1 {
  return {
    messageId: 'msg-3',
    userId: 'user-42',
    anonymousId: 'anon-7',
    traits: { email: 'ada@example.com', name: 'Ada Lovelace', plan: 'pro' },
    context: { ip: '203.0.113.7' },
    integrations: {},
    timestamp: new Date('2024-05-01T10:00:00.000Z'),
    sentAt: null,
    originalTimestamp: null,
    ...overrides,
  };
}

export function anEnvelope(overrides: Partial<EnvelopeV1> = {}): EnvelopeV1 {
  return {
    eventId: '0b6f7c1e-6a4e-4a8e-9d55-0d1f6f1f0a01',
    type: 'WebEventTracked',
    schemaVersion: 1,
    channel: 'web',
    streamId: 'user:user-42',
    occurredAt: new Date('2024-05-01T10:00:00.123Z'),
    receivedAt: new Date('2024-05-01T10:00:01.200Z'),
    sourceId: 'source-1',
    correlationId: 'req-1',
    data: Buffer.from([0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]),
    ...overrides,
  };
}
