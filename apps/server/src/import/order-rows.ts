import {
  type Channel,
  ecommerceEventDataFromTrack,
  type JsonObject,
  type SegmentTrackFields,
} from '@touchline/contracts';
import { stableUuid } from '../common/ids';
import { isDecimalText, parseDecimal } from '../value/domain/decimal';

/**
 * One row of an order file after the CLI mapped its columns to these names (all text, as read):
 * userId (required), orderId, type (order | refund), timestamp, total, currency, productId, sku,
 * name, quantity, price. Everything else of the row is kept in the event's properties.
 */
export interface ImportRow {
  /** Line (or record) number in the file: names the row in the report, and derives order ids. */
  readonly line: number;
  readonly fields: Readonly<Record<string, string>>;
}

export type RejectionCode =
  | 'missing-customer'
  | 'bad-date'
  | 'bad-amount'
  | 'negative-amount'
  | 'missing-amount'
  | 'unknown-currency'
  | 'refund-without-order-id'
  | 'bad-type'
  | 'bad-quantity'
  | 'invalid-event';

export interface RowRejection {
  readonly line: number;
  readonly code: RejectionCode;
  readonly field: string;
  readonly message: string;
}

export interface ImportedOrderEvent {
  readonly line: number;
  readonly eventId: string;
  readonly type: 'OrderCompleted' | 'OrderRefunded';
  readonly channel: Channel;
  readonly streamId: string;
  readonly orderId: string;
  readonly occurredAt: Date;
  readonly data: unknown;
}

export type RowOutcome =
  | { readonly ok: true; readonly event: ImportedOrderEvent }
  | { readonly ok: false; readonly rejection: RowRejection };

export interface RowContext {
  readonly sourceId: string;
  /** Currency of rows without a currency column. */
  readonly defaultCurrency: string;
  /** ISO 4217 codes accepted (the runtime's list). */
  readonly knownCurrencies: ReadonlySet<string>;
}

const KNOWN_FIELDS = new Set([
  'userId',
  'orderId',
  'type',
  'timestamp',
  'total',
  'currency',
  'productId',
  'sku',
  'name',
  'quantity',
  'price',
]);

/** The trimmed text of a row's field, or null when it is absent or blank. */
export function rowValues(row: ImportRow): (name: string) => string | null {
  return (name) => {
    const v = row.fields[name]?.trim();
    return v === undefined || v === '' ? null : v;
  };
}

export const IMPORT_DATE_FORMATS = 'YYYYMMDD, YYYY-MM-DD or ISO-8601 with a zone';

/** YYYYMMDD, YYYY-MM-DD (UTC midnight) or an ISO-8601 date-time with a zone; null: neither. */
export function parseImportDate(text: string | null): Date | null {
  if (text === null) return null;
  const compact = /^(\d{4})(\d{2})(\d{2})$/.exec(text) ?? /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  let date: Date;
  if (compact) {
    const [, y, m, d] = compact.map(Number) as [number, number, number, number];
    date = new Date(Date.UTC(y, m - 1, d));
    if (date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  } else if (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(text)
  ) {
    date = new Date(text);
  } else {
    return null;
  }
  const year = date.getUTCFullYear();
  return Number.isNaN(date.getTime()) || year < 1970 || year > 9999 ? null : date;
}

/**
 * Turns one imported row into an OrderCompleted or OrderRefunded event, built and validated by
 * the same contract code as a Segment track call, or into a rejection naming the field and why.
 * Event ids come from (source, customer, order id), so importing a file again changes nothing;
 * a row without an order id gets one from (customer, date, line).
 */
export function orderEventFromRow(row: ImportRow, context: RowContext): RowOutcome {
  const f = row.fields;
  const reject = (code: RejectionCode, field: string, message: string): RowOutcome => ({
    ok: false,
    rejection: { line: row.line, code, field, message },
  });
  const value = rowValues(row);
  const userId = value('userId');
  if (userId === null) return reject('missing-customer', 'userId', 'the customer id is empty');
  if (userId.length > 512)
    return reject('missing-customer', 'userId', 'the customer id is over 512 characters');
  const kind = (value('type') ?? 'order').toLowerCase();
  if (!['order', 'refund'].includes(kind))
    return reject('bad-type', 'type', `type must be order or refund, got "${kind.slice(0, 40)}"`);
  const refund = kind === 'refund';
  const dateText = value('timestamp');
  const occurredAt = parseImportDate(dateText);
  if (occurredAt === null)
    return reject('bad-date', 'timestamp', `the date must be ${IMPORT_DATE_FORMATS}`);
  const amount = (name: string): RowOutcome | string | null => {
    const text = value(name);
    if (text === null) return null;
    const plain = text.replace(/^\+/, '');
    if (!isDecimalText(plain)) return reject('bad-amount', name, `${name} is not a decimal number`);
    if (parseDecimal(plain).units < 0n)
      return reject('negative-amount', name, `${name} is negative`);
    return plain;
  };
  const total = amount('total');
  if (typeof total === 'object' && total !== null) return total;
  const price = amount('price');
  if (typeof price === 'object' && price !== null) return price;
  const quantityText = value('quantity');
  if (quantityText !== null && !/^\d{1,9}$/.test(quantityText))
    return reject('bad-quantity', 'quantity', 'quantity must be a non-negative integer');
  const productId = value('productId');
  if (!refund && total === null && (price === null || productId === null))
    return reject('missing-amount', 'total', 'an order needs a total (or a product with a price)');
  const currency = (value('currency') ?? context.defaultCurrency).toUpperCase();
  if (!context.knownCurrencies.has(currency))
    return reject(
      'unknown-currency',
      'currency',
      `"${currency.slice(0, 10)}" is not an ISO 4217 currency code`,
    );
  const givenOrderId = value('orderId');
  if (refund && givenOrderId === null)
    return reject('refund-without-order-id', 'orderId', 'a refund must name the order it refunds');
  const orderId = givenOrderId ?? `${userId}:${dateText}:${row.line}`;
  const streamId = `user:${userId}`;
  const type = refund ? 'OrderRefunded' : 'OrderCompleted';
  const eventId = refund
    ? stableUuid('import', context.sourceId, type, streamId, orderId, String(row.line))
    : stableUuid('import', context.sourceId, type, streamId, orderId);

  const extra: JsonObject = {};
  for (const [name, v] of Object.entries(f)) if (!KNOWN_FIELDS.has(name)) extra[name] = v;
  const properties: JsonObject = {
    ...extra,
    order_id: orderId,
    currency,
    ...(total === null ? {} : { total }),
    ...(productId === null
      ? {}
      : {
          products: [
            {
              product_id: productId,
              price: price ?? total ?? '0',
              quantity: quantityText === null ? 1 : Number(quantityText),
              ...(value('sku') === null ? {} : { sku: value('sku') }),
              ...(value('name') === null ? {} : { name: value('name') }),
            },
          ],
        }),
    ...(productId === null && quantityText !== null ? { quantity: Number(quantityText) } : {}),
    import: { source: context.sourceId, line: row.line },
  };
  const track: SegmentTrackFields = {
    messageId: eventId,
    userId,
    anonymousId: null,
    event: refund ? 'Order Refunded' : 'Order Completed',
    properties,
    context: { library: { name: 'touchline-import' } },
    integrations: {},
    timestamp: occurredAt,
    sentAt: null,
    originalTimestamp: occurredAt,
  };
  const built = ecommerceEventDataFromTrack(type, track, { defaultCurrency: currency });
  if (!built.ok) {
    return reject(
      'invalid-event',
      built.errors[0]?.path ?? '(row)',
      built.errors.map((e) => `${e.path}: ${e.message}`).join('; '),
    );
  }
  return {
    ok: true,
    // Ecommerce events live on the web channel (schemas/events/web).
    event: {
      line: row.line,
      eventId,
      type,
      channel: 'web',
      streamId,
      orderId,
      occurredAt,
      data: built.value,
    },
  };
}
