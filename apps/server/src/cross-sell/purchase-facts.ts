/** The part of a recorded event the customer_products projection needs (no framework types). */
export interface PurchaseEvent {
  readonly eventId: string;
  readonly type: string;
  /** The stream id the event arrived with: the customer key. */
  readonly customerKey: string;
  readonly occurredAt: Date;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Units of one product; lines of the same product in one event are added up. */
export interface ProductUnits {
  readonly productId: string;
  readonly quantity: number;
}

export interface OrderPurchase {
  readonly kind: 'order';
  readonly eventId: string;
  readonly customerKey: string;
  readonly orderId: string;
  readonly occurredAt: Date;
  readonly products: readonly ProductUnits[];
}

export interface PurchaseRefund {
  readonly kind: 'refund';
  readonly eventId: string;
  readonly customerKey: string;
  readonly orderId: string;
  readonly occurredAt: Date;
  /** 'whole-order': every product of the order is taken back. */
  readonly products: readonly ProductUnits[] | 'whole-order';
}

export type PurchaseFact = OrderPurchase | PurchaseRefund;

const text = (value: unknown): string | null =>
  typeof value === 'string' && value.length > 0 ? value : null;

/** A product line's id: its productId, else its sku; null when it has neither. */
export function productIdOf(line: unknown): string | null {
  if (typeof line !== 'object' || line === null) return null;
  const fields = line as Record<string, unknown>;
  return text(fields['productId']) ?? text(fields['sku']);
}

/** Lines of the event grouped by product id; lines without an id are skipped. */
function productUnitsOf(data: Readonly<Record<string, unknown>>): ProductUnits[] {
  const lines = Array.isArray(data['products']) ? (data['products'] as unknown[]) : [];
  const units = new Map<string, number>();
  for (const line of lines) {
    const productId = productIdOf(line);
    if (productId === null) continue;
    const quantity = (line as Record<string, unknown>)['quantity'];
    // The contract makes quantity a non-negative int (1 when the call does not say).
    const n = typeof quantity === 'number' && Number.isInteger(quantity) ? quantity : 1;
    units.set(productId, (units.get(productId) ?? 0) + Math.max(n, 0));
  }
  return [...units].map(([productId, quantity]) => ({ productId, quantity }));
}

const hasAmount = (data: Readonly<Record<string, unknown>>) =>
  ['total', 'revenue', 'subtotal'].some((field) => text(data[field]) !== null);

/**
 * What an OrderCompleted or OrderRefunded event says about the products a customer has.
 * An order gives its products. A refund without amount and without products is a refund of the
 * whole order (the value read models read it the same way); one that lists products takes those
 * units back; one with only an amount says nothing about products and gives null, as do other
 * events and events without an order id.
 */
export function purchaseFactOf(event: PurchaseEvent): PurchaseFact | null {
  if (event.type !== 'OrderCompleted' && event.type !== 'OrderRefunded') return null;
  const orderId = text(event.data['orderId']);
  if (orderId === null) return null;
  const base = {
    eventId: event.eventId,
    customerKey: event.customerKey,
    orderId,
    occurredAt: event.occurredAt,
  };
  const products = productUnitsOf(event.data);
  if (event.type === 'OrderCompleted') return { kind: 'order', ...base, products };
  const listed = Array.isArray(event.data['products']) && event.data['products'].length > 0;
  if (!listed && !hasAmount(event.data))
    return { kind: 'refund', ...base, products: 'whole-order' };
  return products.length > 0 ? { kind: 'refund', ...base, products } : null;
}
