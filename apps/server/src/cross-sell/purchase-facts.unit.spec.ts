import { productIdOf, purchaseFactOf, type PurchaseEvent } from './purchase-facts';

const at = new Date('2026-05-01T10:00:00.000Z');
const event = (type: string, data: Record<string, unknown>): PurchaseEvent => ({
  eventId: 'e-1',
  type,
  customerKey: 'user:ada',
  occurredAt: at,
  data: { orderId: 'o-1', currency: 'USD', ...data },
});

describe('what an order event says about products', () => {
  it('an order gives its products by id, else sku, units of a product added up', () => {
    const fact = purchaseFactOf(
      event('OrderCompleted', {
        products: [
          { productId: 'A', quantity: 2 },
          { productId: '', sku: 'SKU-B', quantity: 1 },
          { productId: '', sku: null, quantity: 1 },
          { productId: 'A', quantity: 1 },
        ],
      }),
    );
    expect(fact).toEqual({
      kind: 'order',
      eventId: 'e-1',
      customerKey: 'user:ada',
      orderId: 'o-1',
      occurredAt: at,
      products: [
        { productId: 'A', quantity: 3 },
        { productId: 'SKU-B', quantity: 1 },
      ],
    });
  });

  it('a refund without amount and products takes the whole order back', () => {
    expect(purchaseFactOf(event('OrderRefunded', { total: null, products: [] }))).toMatchObject({
      kind: 'refund',
      products: 'whole-order',
    });
  });

  it('a refund listing products takes those units back; one with only an amount says nothing', () => {
    expect(
      purchaseFactOf(event('OrderRefunded', { products: [{ productId: 'A', quantity: 1 }] })),
    ).toMatchObject({ kind: 'refund', products: [{ productId: 'A', quantity: 1 }] });
    expect(purchaseFactOf(event('OrderRefunded', { total: '5.00', products: [] }))).toBeNull();
  });

  it('other events and events without an order id give nothing', () => {
    expect(purchaseFactOf(event('ProductViewed', { productId: 'A' }))).toBeNull();
    expect(purchaseFactOf(event('OrderCompleted', { orderId: '', products: [] }))).toBeNull();
    expect(productIdOf(null)).toBeNull();
    expect(productIdOf({ productId: 'P', sku: 'S' })).toBe('P');
  });
});
