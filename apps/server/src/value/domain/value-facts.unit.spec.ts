import { add, formatDecimal, parseDecimal, subtract } from './decimal';
import { FxConfigError, parseFxTable, toBaseCurrency } from './fx';
import { settleRefunds, type ValueEvent, valueFactOf } from './value-facts';

const fx = parseFxTable('USD', 'EUR=1.08, GBP=1.27');
const at = new Date('2024-03-01T10:00:00Z');
const event = (type: string, data: Record<string, unknown>): ValueEvent => ({
  eventId: `e-${type}`,
  type,
  customerKey: 'user:ada',
  occurredAt: at,
  data,
});

describe('exact decimals', () => {
  it('adds and subtracts without binary rounding', () => {
    const sum = add(parseDecimal('0.1'), parseDecimal('0.2'));
    expect(formatDecimal(sum)).toBe('0.3');
    expect(
      formatDecimal(subtract(parseDecimal('1234567890123456789.01'), parseDecimal('0.02'))),
    ).toBe('1234567890123456788.99');
    expect(formatDecimal(parseDecimal('3.10'))).toBe('3.10');
  });
});

describe('currency conversion', () => {
  it('converts with the configured rate, exactly, keeping the amount’s own scale', () => {
    const converted = toBaseCurrency(fx, parseDecimal('19.99'), 'EUR');
    expect(converted.ok && formatDecimal(converted.amount)).toBe('21.5892');
    const round = toBaseCurrency(fx, parseDecimal('100.00'), 'EUR');
    expect(round.ok && formatDecimal(round.amount)).toBe('108.00');
  });

  it('refuses an amount in a currency without a rate, and a malformed rate table', () => {
    expect(toBaseCurrency(fx, parseDecimal('1'), 'JPY')).toMatchObject({
      ok: false,
      code: 'no-rate',
    });
    expect(() => parseFxTable('USD', 'EUR=abc')).toThrow(FxConfigError);
    expect(() => parseFxTable('USD', 'EUR=0')).toThrow(/positive/);
    expect(() => parseFxTable('USD', 'EUR')).toThrow(/CODE=RATE/);
  });
});

describe('valueFactOf', () => {
  it('turns an order into a base-currency order, from total, else the priced products', () => {
    expect(
      valueFactOf(event('OrderCompleted', { orderId: 'o-1', currency: 'GBP', total: '10.00' }), fx),
    ).toMatchObject({
      kind: 'order',
      originalAmount: '10.00',
      baseAmount: '12.70',
      currency: 'GBP',
    });
    expect(
      valueFactOf(
        event('OrderCompleted', {
          orderId: 'o-2',
          currency: 'USD',
          total: null,
          products: [
            { price: '19.99', quantity: 2 },
            { price: '0.02', quantity: 1 },
          ],
        }),
        fx,
      ),
    ).toMatchObject({ kind: 'order', baseAmount: '40.00' });
  });

  it('flags what it cannot count, with the reason', () => {
    expect(
      valueFactOf(event('OrderCompleted', { orderId: 'o-3', currency: 'JPY', total: '1000' }), fx),
    ).toMatchObject({ kind: 'flag', reasonCode: 'unknown-currency', originalAmount: '1000' });
    expect(
      valueFactOf(event('OrderCompleted', { orderId: 'o-4', currency: 'USD', products: [] }), fx),
    ).toMatchObject({ kind: 'flag', reasonCode: 'order-without-amount' });
  });

  it('reads a refund without an amount as a full refund, and ignores other events', () => {
    expect(
      valueFactOf(event('OrderRefunded', { orderId: 'o-1', currency: 'USD', total: null }), fx),
    ).toMatchObject({ kind: 'refund', originalAmount: null, baseAmount: null });
    expect(valueFactOf(event('WebPageViewed', {}), fx)).toBeNull();
  });
});

describe('settleRefunds', () => {
  it('applies partial refunds, a full refund takes the rest, and an excess is reported, not counted', () => {
    const result = settleRefunds({ baseAmount: '100.00', refundedAmount: '0' }, [
      { eventId: 'r1', baseAmount: '30.50' },
      { eventId: 'r2', baseAmount: null },
      { eventId: 'r3', baseAmount: '5' },
    ]);
    expect(result.refundedAmount).toBe('100.00');
    expect(result.settled).toEqual([
      { eventId: 'r1', appliedAmount: '30.50', excess: null },
      { eventId: 'r2', appliedAmount: '69.50', excess: null },
      { eventId: 'r3', appliedAmount: '0.00', excess: '5.00' },
    ]);
  });
});
