import {
  add,
  compare,
  type Decimal,
  formatDecimal,
  isDecimalText,
  min,
  multiplyByInteger,
  parseDecimal,
  subtract,
  ZERO,
} from './decimal';
import { type FxTable, toBaseCurrency } from './fx';

/** The part of a recorded event the value read models need (no framework types). */
export interface ValueEvent {
  readonly eventId: string;
  readonly type: string;
  /** The stream id the event arrived with: the customer key. */
  readonly customerKey: string;
  readonly occurredAt: Date;
  readonly data: Readonly<Record<string, unknown>>;
}

export type FlagReason =
  /** The amount's currency has no configured rate: not converted, not counted. */
  | 'unknown-currency'
  /** A refund whose order is not (yet) known: kept, not counted until the order arrives. */
  | 'refund-without-order'
  /** A refund above what is left of its order: the excess is not counted. */
  | 'refund-exceeds-order'
  /** An order with no total, revenue, subtotal or priced products. */
  | 'order-without-amount'
  /** A second event for an order id the customer already has: not counted twice. */
  | 'duplicate-order';

export interface OrderFact {
  readonly kind: 'order';
  readonly eventId: string;
  readonly customerKey: string;
  readonly orderId: string;
  readonly occurredAt: Date;
  readonly currency: string;
  readonly originalAmount: string;
  readonly baseAmount: string;
}

export interface RefundFact {
  readonly kind: 'refund';
  readonly eventId: string;
  readonly customerKey: string;
  readonly orderId: string;
  readonly occurredAt: Date;
  readonly currency: string;
  /** null: a full refund (whatever is left of the order). */
  readonly originalAmount: string | null;
  readonly baseAmount: string | null;
}

export interface FlagFact {
  readonly kind: 'flag';
  readonly eventId: string;
  readonly eventType: string;
  readonly customerKey: string;
  readonly orderId: string | null;
  readonly occurredAt: Date;
  readonly currency: string | null;
  readonly originalAmount: string | null;
  readonly reasonCode: FlagReason;
  readonly reason: string;
}

export type ValueFact = OrderFact | RefundFact | FlagFact;

const text = (value: unknown): string | null =>
  typeof value === 'string' && value.length > 0 ? value : null;

function decimalField(value: unknown): Decimal | null {
  const s = text(value);
  return s !== null && isDecimalText(s) ? parseDecimal(s) : null;
}

/** total, else revenue, else subtotal, else the sum of price × quantity of the products. */
export function amountOf(data: Readonly<Record<string, unknown>>): Decimal | null {
  for (const field of ['total', 'revenue', 'subtotal']) {
    const amount = decimalField(data[field]);
    if (amount !== null) return amount;
  }
  const products = Array.isArray(data['products']) ? (data['products'] as unknown[]) : [];
  let sum: Decimal | null = null;
  for (const product of products) {
    if (typeof product !== 'object' || product === null) continue;
    const line = product as Record<string, unknown>;
    const price = decimalField(line['price']);
    const quantity =
      typeof line['quantity'] === 'number' && Number.isInteger(line['quantity'])
        ? line['quantity']
        : 1;
    if (price !== null) sum = add(sum ?? ZERO, multiplyByInteger(price, quantity));
  }
  return sum;
}

/**
 * What an OrderCompleted or OrderRefunded event means for the customer's value, converted to the
 * configured currency; anything that cannot be counted becomes a flag with its reason. Other
 * events give null.
 */
export function valueFactOf(event: ValueEvent, fx: FxTable): ValueFact | null {
  if (event.type !== 'OrderCompleted' && event.type !== 'OrderRefunded') return null;
  const orderId = text(event.data['orderId']);
  const currency = text(event.data['currency']);
  const amount = amountOf(event.data);
  const flag = (reasonCode: FlagReason, reason: string): FlagFact => ({
    kind: 'flag',
    eventId: event.eventId,
    eventType: event.type,
    customerKey: event.customerKey,
    orderId,
    occurredAt: event.occurredAt,
    currency,
    originalAmount: amount === null ? null : formatDecimal(amount),
    reasonCode,
    reason,
  });
  // The schema requires both; an event without them cannot be placed, so it is shown, not counted.
  if (orderId === null || currency === null)
    return flag('order-without-amount', 'the event has no order id or no currency');
  if (event.type === 'OrderCompleted') {
    if (amount === null)
      return flag('order-without-amount', 'no total, revenue, subtotal or priced products');
    const converted = toBaseCurrency(fx, amount, currency);
    if (!converted.ok) return flag('unknown-currency', converted.message);
    return {
      kind: 'order',
      eventId: event.eventId,
      customerKey: event.customerKey,
      orderId,
      occurredAt: event.occurredAt,
      currency,
      originalAmount: formatDecimal(amount),
      baseAmount: formatDecimal(converted.amount),
    };
  }
  let baseAmount: string | null = null;
  if (amount !== null) {
    const converted = toBaseCurrency(fx, amount, currency);
    if (!converted.ok) return flag('unknown-currency', converted.message);
    baseAmount = formatDecimal(converted.amount);
  }
  return {
    kind: 'refund',
    eventId: event.eventId,
    customerKey: event.customerKey,
    orderId,
    occurredAt: event.occurredAt,
    currency,
    originalAmount: amount === null ? null : formatDecimal(amount),
    baseAmount,
  };
}

export interface PendingRefund {
  readonly eventId: string;
  /** Base-currency amount; null for a full refund. */
  readonly baseAmount: string | null;
}

export interface SettledRefund {
  readonly eventId: string;
  /** What is counted against the order. */
  readonly appliedAmount: string;
  /** What was asked beyond the rest of the order (not counted); null when none. */
  readonly excess: string | null;
}

/**
 * Applies refunds, in event-time order, to an order: a full refund takes what is left; a partial
 * one at most what is left, the excess being reported rather than counted.
 */
export function settleRefunds(
  order: { readonly baseAmount: string; readonly refundedAmount: string },
  refunds: readonly PendingRefund[],
): { refundedAmount: string; settled: SettledRefund[] } {
  const total = parseDecimal(order.baseAmount);
  let refunded = parseDecimal(order.refundedAmount);
  const settled: SettledRefund[] = [];
  for (const refund of refunds) {
    const left = subtract(total, refunded);
    const remaining = compare(left, ZERO) < 0 ? ZERO : left;
    const asked = refund.baseAmount === null ? remaining : parseDecimal(refund.baseAmount);
    const applied = min(asked, remaining);
    refunded = add(refunded, applied);
    settled.push({
      eventId: refund.eventId,
      appliedAmount: formatDecimal(applied),
      excess: compare(asked, applied) > 0 ? formatDecimal(subtract(asked, applied)) : null,
    });
  }
  return { refundedAmount: formatDecimal(refunded), settled };
}
