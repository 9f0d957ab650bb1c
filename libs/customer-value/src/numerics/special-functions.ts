// Gamma-family functions for real arguments. Lanczos (g = 7, 9 terms) gives about 15 significant
// digits of Γ; the reflection formula covers arguments below 1/2, including negative ones.

// Jest runs code in a vm context where every global lookup is slow; a module binding is not.
const Math = globalThis.Math;
const NEG_INF = -globalThis.Infinity;

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
] as const;
const HALF_LN_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** sin(πx), exactly 0 at integers and accurate near them (no π·x rounding for large |x|). */
export function sinPi(x: number): number {
  // r = x − 2k in [−1, 1]; exact for |x| < 1, and 1 ∓ r below is exact (Sterbenz).
  const r = x - 2 * Math.round(x / 2);
  if (r > 0.5) return Math.sin(Math.PI * (1 - r));
  if (r < -0.5) return Math.sin(Math.PI * (-1 - r));
  return Math.sin(Math.PI * r);
}

/** ln|Γ(x)| for real x; +Infinity at the poles (0, -1, -2, ...). */
export function lnAbsGamma(x: number): number {
  if (x < 0.5) {
    const s = sinPi(x);
    if (s === 0) return Infinity;
    return Math.log(Math.PI / Math.abs(s)) - lnAbsGamma(1 - x);
  }
  const y = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < 9; i++) sum += LANCZOS[i]! / (y + i);
  const t = y + LANCZOS_G + 0.5;
  return HALF_LN_TWO_PI + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln Γ(x) for x > 0 (the only case the likelihoods need). */
export const lnGamma = lnAbsGamma;

/** Sign of Γ(x): 1 for x > 0, alternating between the negative poles, 0 at a pole. */
export function gammaSign(x: number): -1 | 0 | 1 {
  if (x > 0) return 1;
  const s = sinPi(x);
  if (s === 0) return 0;
  // Γ(x)Γ(1−x) = π / sin(πx) and Γ(1−x) > 0 for x < 0.
  return s > 0 ? 1 : -1;
}

/** ln(e^a + e^b) without overflow; -Infinity inputs are allowed. */
export function logAddExp(a: number, b: number): number {
  if (a === NEG_INF) return b;
  if (b === NEG_INF) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** 1 / (1 + e^u), stable for any u. */
export function logisticOfNegative(u: number): number {
  if (u >= 0) {
    const e = Math.exp(-u);
    return e / (1 + e);
  }
  return 1 / (1 + Math.exp(u));
}
