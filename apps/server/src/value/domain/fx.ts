import {
  type Decimal,
  formatDecimal,
  isDecimalText,
  multiply,
  parseDecimal,
  trimScale,
} from './decimal';

/**
 * The configured currency and fixed rates to it: `EUR=1.08` means 1 EUR = 1.08 of the base
 * currency. An amount in a currency without a rate is not converted (and so not counted).
 */
export interface FxTable {
  readonly base: string;
  readonly rates: ReadonlyMap<string, Decimal>;
}

const CURRENCY = /^[A-Z]{3}$/;

export class FxConfigError extends Error {
  readonly code = 'invalid-fx-config';
}

/** Parses `EUR=1.08,GBP=1.27`; every problem names the entry. */
export function parseFxTable(base: string, spec: string | undefined): FxTable {
  if (!CURRENCY.test(base))
    throw new FxConfigError(`currency must be three uppercase letters, got "${base}"`);
  const rates = new Map<string, Decimal>([[base, { units: 1n, scale: 0 }]]);
  for (const entry of (spec ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [code, rate, extra] = entry.split('=').map((part) => part.trim());
    if (code === undefined || !CURRENCY.test(code) || rate === undefined || extra !== undefined) {
      throw new FxConfigError(`"${entry}" must be CODE=RATE, e.g. EUR=1.08`);
    }
    if (!isDecimalText(rate) || parseDecimal(rate).units <= 0n) {
      throw new FxConfigError(`the rate of ${code} must be a positive decimal, got "${rate}"`);
    }
    if (code === base && parseDecimal(rate).units !== 10n ** BigInt(parseDecimal(rate).scale)) {
      throw new FxConfigError(`the rate of the base currency ${base} must be 1`);
    }
    rates.set(code, parseDecimal(rate));
  }
  return { base, rates };
}

export type Conversion =
  | { readonly ok: true; readonly amount: Decimal }
  | { readonly ok: false; readonly code: 'no-rate'; readonly message: string };

export function toBaseCurrency(fx: FxTable, amount: Decimal, currency: string): Conversion {
  const rate = fx.rates.get(currency);
  if (rate === undefined) {
    return {
      ok: false,
      code: 'no-rate',
      message: `no rate from ${currency} to ${fx.base} is configured (TOUCHLINE_FX_RATES)`,
    };
  }
  // Exact product; zeros the rate added beyond the amount's own digits are dropped (100.00 × 1.08 = 108.00).
  return { ok: true, amount: trimScale(multiply(amount, rate), amount.scale) };
}

/** For logs and API answers: `{ EUR: '1.08' }`. */
export function describeRates(fx: FxTable): Record<string, string> {
  return Object.fromEntries(
    [...fx.rates].map(([code, rate]) => [code, formatDecimal(trimScale(rate))]),
  );
}
