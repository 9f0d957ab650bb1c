import { randomUUID } from 'node:crypto';

import { decodeEventDataOrThrow, encodeEventData } from './codec';
import { ecommerceEventDataFromTrack, ecommerceEventFromTrack } from './ecommerce';
import { ContractError } from './errors';
import type { WebEventTrackedV1 } from './generated/types';
import type { JsonObject } from './json';
import { eventDataFromJson, eventDataToJson } from './json-mapping';
import {
  anOrderCompleted,
  anOrderRefunded,
  aProduct,
  aProductAdded,
  aProductViewed,
  aWebEventTracked,
} from './testing';
import { validateEventData } from './validation';

function track(event: string, properties: JsonObject): WebEventTrackedV1 {
  return aWebEventTracked({ messageId: randomUUID(), event, properties });
}

const rulesOf = (result: { ok: boolean; errors?: readonly { path: string; rule: string }[] }) =>
  result.ok ? [] : result.errors!.map((e) => `${e.path}:${e.rule}`);

describe('ecommerceEventFromTrack', () => {
  it.each([
    ['Order Completed', 'OrderCompleted'],
    ['Order Refunded', 'OrderRefunded'],
    ['Product Viewed', 'ProductViewed'],
    ['Product Added', 'ProductAdded'],
  ])('maps %s to %s v1', (event, type) => {
    expect(ecommerceEventFromTrack(event, {})).toEqual({ type, version: 1 });
  });

  it.each(['order completed', 'Order Placed', 'Checkout Started', 'toString', '__proto__', ''])(
    'leaves %j a generic track',
    (event) => {
      expect(ecommerceEventFromTrack(event, { order_id: 'o-1' })).toBeNull();
    },
  );
});

describe('ecommerceEventDataFromTrack', () => {
  it('builds an OrderCompleted from Segment spec properties, amounts as exact decimal strings', () => {
    const properties = {
      checkout_id: 'fksdjfsdjfisjf9sdfjsd9f',
      order_id: '50314b8e9bcf000000000000',
      affiliation: 'Google Store',
      total: 27.5,
      subtotal: 22.5,
      revenue: 25.0,
      shipping: 3,
      tax: 2,
      discount: 2.5,
      coupon: 'hasbros',
      currency: 'usd',
      products: [
        {
          product_id: '507f1f77bcf86cd799439011',
          sku: '45790-32',
          name: 'Monopoly: 3rd Edition',
          price: 19,
          quantity: 1,
          category: 'Games',
          url: 'https://www.example.com/product/path',
          image_url: 'https:///www.example.com/product/path.jpg',
        },
        { product_id: 505, sku: '46493-32', name: 'Uno Card Game', price: '3.10', quantity: 2 },
        { productId: 'legacy-camel', price: 0.1 },
      ],
      custom: { anything: ['kept'] },
    };
    const source = track('Order Completed', properties);
    const result = ecommerceEventDataFromTrack('OrderCompleted', source);
    expect(rulesOf(result)).toEqual([]);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      messageId: source.messageId,
      userId: source.userId,
      orderId: '50314b8e9bcf000000000000',
      checkoutId: 'fksdjfsdjfisjf9sdfjsd9f',
      affiliation: 'Google Store',
      total: '27.5',
      subtotal: '22.5',
      revenue: '25',
      shipping: '3',
      tax: '2',
      discount: '2.5',
      coupon: 'hasbros',
      currency: 'USD',
      context: source.context,
      timestamp: source.timestamp,
    });
    expect(result.value.properties).toBe(properties);
    expect(result.value.products).toEqual([
      aProduct({
        productId: '507f1f77bcf86cd799439011',
        sku: '45790-32',
        name: 'Monopoly: 3rd Edition',
        price: '19',
        quantity: 1,
        category: 'Games',
        url: 'https://www.example.com/product/path',
        imageUrl: 'https:///www.example.com/product/path.jpg',
      }),
      aProduct({
        productId: '505',
        sku: '46493-32',
        name: 'Uno Card Game',
        category: null,
        price: '3.10',
        quantity: 2,
      }),
      aProduct({ productId: 'legacy-camel', sku: null, name: null, category: null, price: '0.1' }),
    ]);
  });

  it('keeps every cent through Avro and JSON, where a float sum would not', () => {
    const amounts = ['0.1', '0.2', '19.99', '1234567890123456789.01', '0.000001'];
    for (const total of amounts) {
      const value = anOrderCompleted({ messageId: randomUUID(), total });
      const decoded = decodeEventDataOrThrow(encodeEventData('OrderCompleted', 1, value));
      expect(decoded).toEqual({ type: 'OrderCompleted', version: 1, value });
      const json = JSON.parse(
        JSON.stringify(eventDataToJson('OrderCompleted', 1, value)),
      ) as unknown;
      expect(eventDataFromJson('OrderCompleted', 1, json)).toEqual(value);
    }
    // The number Segment sends survives as the decimal it was written as.
    const built = ecommerceEventDataFromTrack(
      'OrderCompleted',
      track('Order Completed', { order_id: 'o', total: 19.99 }),
    );
    expect(built.ok && built.value.total).toBe('19.99');
  });

  it.each([
    ['OrderRefunded', 'Order Refunded', anOrderRefunded],
    ['ProductViewed', 'Product Viewed', aProductViewed],
    ['ProductAdded', 'Product Added', aProductAdded],
  ] as const)('builds %s, valid and round-tripping', (type, event, example) => {
    const properties: JsonObject = {
      order_id: 'order-1',
      product_id: 'p-1',
      sku: 'SKU-1',
      name: 'Monopoly: 3rd Edition',
      category: 'Games',
      price: 19.99,
      quantity: 1,
      total: '19.99',
      currency: 'EUR',
      cart_id: 'cart-1',
      products: [
        {
          product_id: 'p-1',
          sku: 'SKU-1',
          name: 'Monopoly: 3rd Edition',
          category: 'Games',
          price: 19.99,
        },
      ],
    };
    const source = track(event, properties);
    const result = ecommerceEventDataFromTrack(type, source);
    expect(rulesOf(result)).toEqual([]);
    if (!result.ok) return;
    const { event: _event, ...segment } = source;
    const quantity = type === 'OrderRefunded' ? {} : { quantity: 1 };
    expect(result.value).toEqual({ ...example(), ...segment, currency: 'EUR', ...quantity });
    const decoded = decodeEventDataOrThrow(encodeEventData(type, 1, result.value as never));
    expect(decoded.value).toEqual(result.value);
  });

  it('defaults the currency of amounts to USD (configurable), and only where there are amounts', () => {
    const order = track('Order Completed', { order_id: 'o-1', total: 10 });
    const usd = ecommerceEventDataFromTrack('OrderCompleted', order);
    expect(usd.ok && usd.value.currency).toBe('USD');
    const gbp = ecommerceEventDataFromTrack('OrderCompleted', order, { defaultCurrency: 'GBP' });
    expect(gbp.ok && gbp.value.currency).toBe('GBP');
    const strict = ecommerceEventDataFromTrack('OrderCompleted', order, { defaultCurrency: null });
    expect(rulesOf(strict)).toEqual(['properties.currency:required']);

    const noPrice = ecommerceEventDataFromTrack(
      'ProductViewed',
      track('Product Viewed', { product_id: 'p-1' }),
    );
    expect(noPrice.ok && [noPrice.value.price, noPrice.value.currency]).toEqual([null, null]);
  });

  it('answers per field, naming the property as sent and the rule', () => {
    const result = ecommerceEventDataFromTrack(
      'OrderCompleted',
      track('Order Completed', {
        total: -5,
        revenue: '12,50',
        tax: 1e21,
        currency: 'euro',
        products: [
          { product_id: 'ok', price: 1 },
          { sku: 'no id', price: 1 },
          { product_id: 'p', price: -0.01, quantity: 1.5 },
          { product_id: 'p' },
          'not a product',
        ],
      }),
    );
    expect(rulesOf(result)).toEqual([
      'properties.total:non-negative',
      'properties.revenue:decimal',
      'properties.tax:decimal',
      'properties.order_id:required',
      'properties.products[1].product_id:required',
      'properties.products[2].price:non-negative',
      'properties.products[2].quantity:type',
      'properties.products[3].price:required',
      'properties.products[4]:type',
      'properties.currency:currency',
    ]);
    if (result.ok) return;
    for (const error of result.errors) expect(error.message).toMatch(/^properties\./);
    // Messages name the field, never the value (it may be personal data).
    expect(result.errors.map((e) => e.message).join(' ')).not.toContain('euro');
  });

  it('rejects a refund without an order id and a product event without a product id', () => {
    expect(
      rulesOf(ecommerceEventDataFromTrack('OrderRefunded', track('Order Refunded', {}))),
    ).toEqual(['properties.order_id:required']);
    expect(
      rulesOf(ecommerceEventDataFromTrack('ProductAdded', track('Product Added', { price: 1 }))),
    ).toEqual(['properties.product_id:required']);
  });
});

describe('value rules in validateEventData', () => {
  it('names the field path and the rule: decimal, non-negative, currency', () => {
    const value = anOrderCompleted({
      total: '1e3',
      tax: '-0.01',
      discount: '-0',
      currency: 'eur',
      products: [aProduct(), aProduct(), aProduct({ price: '-1.00', quantity: -2 })],
    });
    expect(rulesOf(validateEventData('OrderCompleted', 1, value))).toEqual([
      'total:decimal',
      'tax:non-negative',
      'currency:currency',
      'products[2].price:non-negative',
      'products[2].quantity:non-negative',
    ]);
  });

  it('checks allowed values of string fields', () => {
    expect(
      rulesOf(
        validateEventData('CallMissed', 1, {
          provider: 'twilio',
          callId: 'c',
          direction: 'sideways',
          from: null,
          to: null,
          customerPhone: null,
          customerExternalId: null,
          agentId: null,
          agentName: null,
          queue: null,
          ivrPath: [],
          topic: null,
          occurredAt: new Date(),
          reason: 'no-answer',
        }),
      ),
    ).toEqual(['direction:enum']);
  });

  it('reports Avro type errors once, without a rule error for the same field', () => {
    const result = validateEventData('OrderCompleted', 1, anOrderCompleted({ total: 12 as never }));
    expect(rulesOf(result)).toEqual(['total:type']);
  });

  it('refuses to encode or store a value that breaks a rule, but reads stored JSON as is', () => {
    const bad = anOrderCompleted({ currency: 'euro' });
    expect(() => encodeEventData('OrderCompleted', 1, bad)).toThrow(ContractError);
    expect(() => eventDataToJson('OrderCompleted', 1, bad)).toThrow(
      expect.objectContaining({ code: 'INVALID_VALUE' }) as Error,
    );
    // History written before a rule was tightened stays readable.
    const stored = {
      ...eventDataToJson('OrderCompleted', 1, anOrderCompleted()),
      currency: 'euro',
    };
    expect(eventDataFromJson('OrderCompleted', 1, stored).currency).toBe('euro');
  });
});
