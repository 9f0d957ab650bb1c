import type {
  EnvelopeV1,
  OrderCompletedV1,
  OrderRefundedV1,
  ProductAddedV1,
  ProductViewedV1,
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

const segmentCommon = {
  userId: 'user-42',
  anonymousId: 'anon-7',
  context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0' },
  integrations: {},
  timestamp: new Date('2024-05-01T10:00:00.000Z'),
  sentAt: null,
  originalTimestamp: null,
} as const;

export function anOrderCompleted(overrides: Partial<OrderCompletedV1> = {}): OrderCompletedV1 {
  return {
    ...segmentCommon,
    messageId: 'msg-order-1',
    orderId: 'order-1',
    checkoutId: 'checkout-1',
    affiliation: null,
    total: '57.49',
    revenue: '45.00',
    subtotal: '50.00',
    tax: '7.49',
    shipping: '5.00',
    discount: '5.00',
    coupon: 'SPRING',
    currency: 'EUR',
    products: [
      aProduct({ productId: 'p-1', price: '19.99', quantity: 2 }),
      aProduct({ productId: 'p-2', sku: null, price: '10.02', quantity: 1 }),
    ],
    properties: { order_id: 'order-1', total: 57.49, currency: 'EUR' },
    ...overrides,
  };
}

export function anOrderRefunded(overrides: Partial<OrderRefundedV1> = {}): OrderRefundedV1 {
  return {
    ...segmentCommon,
    messageId: 'msg-refund-1',
    orderId: 'order-1',
    total: '19.99',
    revenue: null,
    subtotal: null,
    tax: null,
    shipping: null,
    discount: null,
    currency: 'EUR',
    products: [aProduct({ productId: 'p-1', price: '19.99', quantity: 1 })],
    properties: { order_id: 'order-1', total: 19.99, currency: 'EUR' },
    ...overrides,
  };
}

export function aProduct(
  overrides: Partial<OrderCompletedV1['products'][number]> = {},
): OrderCompletedV1['products'][number] {
  return {
    productId: 'p-1',
    sku: 'SKU-1',
    name: 'Monopoly: 3rd Edition',
    category: 'Games',
    brand: null,
    variant: null,
    price: '19.99',
    quantity: 1,
    coupon: null,
    position: null,
    url: null,
    imageUrl: null,
    ...overrides,
  };
}

export function aProductViewed(overrides: Partial<ProductViewedV1> = {}): ProductViewedV1 {
  return {
    ...segmentCommon,
    ...aProduct(),
    quantity: null,
    messageId: 'msg-product-1',
    currency: 'USD',
    properties: { product_id: 'p-1', price: 19.99 },
    ...overrides,
  };
}

export function aProductAdded(overrides: Partial<ProductAddedV1> = {}): ProductAddedV1 {
  return {
    ...segmentCommon,
    ...aProduct(),
    messageId: 'msg-product-2',
    currency: 'USD',
    cartId: 'cart-1',
    properties: { product_id: 'p-1', price: 19.99, quantity: 1, cart_id: 'cart-1' },
    ...overrides,
  };
}
