import type { ValidationError } from './errors';
import type { OrderCompletedV1, WebEventTrackedV1 } from './generated/types';
import { isJsonObject, type JsonObject } from './json';
import { type EventDataOf, validateEventData, type ValidationResult } from './validation';
import { isCurrencyCode, isDecimalString } from './value-rules';

// Segment's ecommerce spec (v2) events as typed events: a `track` named "Order Completed" becomes
// OrderCompleted, with its amounts as exact decimal strings (see docs/contracts.md, "Money").
// Segment's property names are snake_case (order_id, product_id); the camelCase names of its
// older spec (orderId, productId, id) are read too.

export const ECOMMERCE_EVENT_TYPES = [
  'OrderCompleted',
  'OrderRefunded',
  'ProductViewed',
  'ProductAdded',
] as const;
export type EcommerceEventType = (typeof ECOMMERCE_EVENT_TYPES)[number];

/** Segment `track` event names (exact, case-sensitive, as the spec writes them) and their typed event. */
export const ECOMMERCE_TRACK_EVENTS: Readonly<Record<string, EcommerceEventType>> = {
  'Order Completed': 'OrderCompleted',
  'Order Refunded': 'OrderRefunded',
  'Product Viewed': 'ProductViewed',
  'Product Added': 'ProductAdded',
};

/** Which typed event (and schema version) a track call becomes. */
export interface EcommerceEventRef {
  readonly type: EcommerceEventType;
  readonly version: 1;
}

/** One line of an order or refund. */
export type OrderProductV1 = OrderCompletedV1['products'][number];

/** The Segment track fields the ecommerce events are built from: a validated WebEventTracked. */
export type SegmentTrackFields = WebEventTrackedV1;

export interface EcommerceOptions {
  /**
   * Currency of amounts sent without `currency` (Segment's destinations assume USD). Default
   * 'USD'; null makes a missing currency an error where there are amounts.
   */
  readonly defaultCurrency?: string | null;
}

/**
 * The typed ecommerce event a Segment track with this event name maps to, or null for any other
 * track (which stays a WebEventTracked). The properties do not decide anything in version 1; they
 * are part of the signature so that a later rule can look at them without changing callers.
 */
export function ecommerceEventFromTrack(
  event: string,
  _properties: JsonObject,
): EcommerceEventRef | null {
  const type = Object.prototype.hasOwnProperty.call(ECOMMERCE_TRACK_EVENTS, event)
    ? ECOMMERCE_TRACK_EVENTS[event]
    : undefined;
  return type === undefined ? null : { type, version: 1 };
}

/**
 * Builds the typed data of an ecommerce event from a Segment track. Errors name the property as
 * sent (`properties.products[2].price`) and the rule (`required`, `type`, `decimal`,
 * `non-negative`, `currency`); on success the value has passed validateEventData, value rules
 * included, and `properties` is the original object, untouched.
 */
export function ecommerceEventDataFromTrack<T extends EcommerceEventType>(
  type: T,
  track: SegmentTrackFields,
  options: EcommerceOptions = {},
): ValidationResult<EventDataOf<T, 1>> {
  const reader = new PropertyReader(
    options.defaultCurrency === undefined ? 'USD' : options.defaultCurrency,
  );
  const props = track.properties;
  const fields = buildFields(type, reader, props);
  if (reader.errors.length > 0) return { ok: false, errors: reader.errors };
  const data = {
    messageId: track.messageId,
    userId: track.userId,
    anonymousId: track.anonymousId,
    ...fields,
    properties: props,
    context: track.context,
    integrations: track.integrations,
    timestamp: track.timestamp,
    sentAt: track.sentAt,
    originalTimestamp: track.originalTimestamp,
  };
  return validateEventData<T, 1>(type, 1, data);
}

const P = 'properties';

function buildFields(
  type: EcommerceEventType,
  r: PropertyReader,
  props: JsonObject,
): Record<string, unknown> {
  switch (type) {
    case 'OrderCompleted':
    case 'OrderRefunded': {
      const amounts = {
        total: r.decimal(props, P, ['total']),
        revenue: r.decimal(props, P, ['revenue']),
        subtotal: r.decimal(props, P, ['subtotal']),
        tax: r.decimal(props, P, ['tax']),
        shipping: r.decimal(props, P, ['shipping']),
        discount: r.decimal(props, P, ['discount']),
      };
      const order = {
        // '' only when reported missing: the errors are returned instead of the value.
        orderId: r.id(props, P, ['order_id', 'orderId'], true) ?? '',
        ...(type === 'OrderCompleted'
          ? {
              checkoutId: r.id(props, P, ['checkout_id', 'checkoutId'], false),
              affiliation: r.text(props, P, ['affiliation']),
            }
          : {}),
        ...amounts,
        ...(type === 'OrderCompleted' ? { coupon: r.text(props, P, ['coupon']) } : {}),
      };
      const products = r.products(props);
      return { ...order, currency: r.currency(props, P, true), products };
    }
    case 'ProductViewed':
    case 'ProductAdded': {
      const product = r.product(props, P, false);
      const currency = r.currency(props, P, product.price !== null);
      return {
        ...product,
        currency,
        ...(type === 'ProductAdded'
          ? { cartId: r.id(props, P, ['cart_id', 'cartId'], false) }
          : {}),
      };
    }
  }
}

const MAX_INT = 2 ** 31 - 1;

/** Reads Segment properties into typed fields, collecting one error per bad field. */
class PropertyReader {
  readonly errors: ValidationError[] = [];

  constructor(private readonly defaultCurrency: string | null) {}

  /** An id: a non-empty string, or an integer (Segment ids are often database numbers). */
  id(o: JsonObject, base: string, names: readonly string[], required: boolean): string | null {
    const found = pick(o, base, names);
    if (found === null) {
      if (required) this.fail(`${base}.${names[0] ?? ''}`, 'required', 'is required');
      return null;
    }
    const { path, value } = found;
    if (typeof value === 'string' && value.trim() !== '') return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    this.fail(path, 'type', 'must be a non-empty string or an integer');
    return null;
  }

  text(o: JsonObject, base: string, names: readonly string[]): string | null {
    const found = pick(o, base, names);
    if (found === null) return null;
    if (typeof found.value === 'string') return found.value;
    this.fail(found.path, 'type', 'must be a string');
    return null;
  }

  /**
   * An amount as an exact decimal string. A JSON number is written as JavaScript's shortest
   * round-trip form (19.99 stays "19.99"); a string must already be a decimal.
   */
  decimal(o: JsonObject, base: string, names: readonly string[]): string | null {
    const found = pick(o, base, names);
    if (found === null) return null;
    const { path, value } = found;
    let text: string | null = null;
    if (typeof value === 'number' && Number.isFinite(value)) {
      const shortest = String(value);
      if (!/e/i.test(shortest)) text = shortest;
    } else if (typeof value === 'string') {
      const trimmed = value.trim();
      if (isDecimalString(trimmed)) text = trimmed;
    }
    if (text === null || !isDecimalString(text)) {
      this.fail(
        path,
        'decimal',
        'must be a decimal amount: a JSON number without exponent, or a string such as "19.99"',
      );
      return null;
    }
    if (text.startsWith('-') && /[1-9]/.test(text)) {
      this.fail(path, 'non-negative', 'must not be negative');
      return null;
    }
    return text.startsWith('-') ? text.slice(1) : text; // "-0" is 0
  }

  /** A count: a non-negative integer, or a string of digits. */
  count(o: JsonObject, base: string, names: readonly string[]): number | null {
    const found = pick(o, base, names);
    if (found === null) return null;
    const { path, value } = found;
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\d{1,10}$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isInteger(n) || n > MAX_INT) {
      this.fail(path, 'type', 'must be an integer');
      return null;
    }
    if (n < 0) {
      this.fail(path, 'non-negative', 'must not be negative');
      return null;
    }
    return n;
  }

  /** ISO 4217 code, case-folded; the default currency when absent and `needed`. */
  currency(o: JsonObject, base: string, needed: boolean): string | null {
    const found = pick(o, base, ['currency']);
    if (found === null) {
      if (needed && this.defaultCurrency === null)
        this.fail(`${base}.currency`, 'required', 'is required with amounts');
      return needed ? this.defaultCurrency : null;
    }
    const code = typeof found.value === 'string' ? found.value.trim().toUpperCase() : '';
    if (!isCurrencyCode(code)) {
      this.fail(
        found.path,
        'currency',
        'must be an ISO 4217 currency code: three letters, e.g. EUR',
      );
      return null;
    }
    return code;
  }

  /** The product fields of Segment's spec, top-level (Product Viewed) or in products[] (orders). */
  product(
    o: JsonObject,
    base: string,
    priceRequired: boolean,
  ): Omit<OrderProductV1, 'price' | 'quantity'> & {
    price: string | null;
    quantity: number | null;
  } {
    const price = this.decimal(o, base, ['price']);
    if (priceRequired && price === null && pick(o, base, ['price']) === null)
      this.fail(`${base}.price`, 'required', 'is required');
    return {
      productId: this.id(o, base, ['product_id', 'productId', 'id'], true) ?? '',
      sku: this.text(o, base, ['sku']),
      name: this.text(o, base, ['name']),
      category: this.text(o, base, ['category']),
      brand: this.text(o, base, ['brand']),
      variant: this.text(o, base, ['variant']),
      price,
      quantity: this.count(o, base, ['quantity']),
      coupon: this.text(o, base, ['coupon']),
      position: this.count(o, base, ['position']),
      url: this.text(o, base, ['url']),
      imageUrl: this.text(o, base, ['image_url', 'imageUrl']),
    };
  }

  /** properties.products: each line with a price; quantity 1 when not given. */
  products(o: JsonObject): OrderProductV1[] {
    const found = pick(o, P, ['products']);
    if (found === null) return [];
    if (!Array.isArray(found.value)) {
      this.fail(found.path, 'type', 'must be an array of products');
      return [];
    }
    const lines: OrderProductV1[] = [];
    found.value.forEach((item: unknown, i) => {
      const path = `${found.path}[${i}]`;
      if (!isJsonObject(item)) {
        this.fail(path, 'type', 'must be an object');
        return;
      }
      const line = this.product(item, path, true);
      lines.push({ ...line, price: line.price ?? '0', quantity: line.quantity ?? 1 });
    });
    return lines;
  }

  private fail(path: string, rule: ValidationError['rule'], what: string): void {
    this.errors.push({ path, rule, message: `${path} ${what}` });
  }
}

/** The first of `names` present and not null, with its path; null when none is. */
function pick(
  o: JsonObject,
  base: string,
  names: readonly string[],
): { path: string; value: unknown } | null {
  for (const name of names) {
    const value = o[name];
    if (value !== undefined && value !== null) return { path: `${base}.${name}`, value };
  }
  return null;
}
