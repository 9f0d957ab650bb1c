/**
 * Exact decimal arithmetic on the decimal strings money travels as (docs/contracts.md, "Money"):
 * an integer of units and a scale, in BigInt. Never a binary float.
 */
export interface Decimal {
  readonly units: bigint;
  readonly scale: number;
}

export class DecimalError extends Error {
  readonly code = 'invalid-decimal';
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

export function parseDecimal(text: string): Decimal {
  const match = DECIMAL.exec(text);
  if (!match || text.length > 60) throw new DecimalError(`not a decimal number: "${text}"`);
  const [, sign, whole, fraction = ''] = match;
  const units = BigInt(`${whole}${fraction}`);
  return { units: sign === '-' ? -units : units, scale: fraction.length };
}

export function isDecimalText(text: string): boolean {
  return DECIMAL.test(text) && text.length <= 60;
}

function rescale(value: Decimal, scale: number): bigint {
  return value.units * 10n ** BigInt(scale - value.scale);
}

export const ZERO: Decimal = { units: 0n, scale: 0 };

export function add(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { units: rescale(a, scale) + rescale(b, scale), scale };
}

export function subtract(a: Decimal, b: Decimal): Decimal {
  return add(a, { units: -b.units, scale: b.scale });
}

export function multiply(a: Decimal, b: Decimal): Decimal {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

export function multiplyByInteger(a: Decimal, n: number): Decimal {
  return { units: a.units * BigInt(n), scale: a.scale };
}

export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale);
  const y = rescale(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

export const min = (a: Decimal, b: Decimal): Decimal => (compare(a, b) <= 0 ? a : b);

export function isNegative(a: Decimal): boolean {
  return a.units < 0n;
}

/** Drops trailing zeros of the fraction, down to `minScale` digits (2.5000 → 2.50 for 2). */
export function trimScale(value: Decimal, minScale = 0): Decimal {
  let { units, scale } = value;
  while (scale > minScale && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return { units, scale };
}

/** Plain decimal text (no exponent) with the value's scale: 3.10 stays "3.10". */
export function formatDecimal(value: Decimal): string {
  const { units, scale } = value;
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return `${negative ? '-' : ''}${whole}${scale > 0 ? `.${fraction}` : ''}`;
}
