import { CustomerValueError } from '../errors';
import { gammaSign, lnAbsGamma } from './special-functions';

// Jest runs code in a vm context where every global lookup is slow; a module binding is not.
const Math = globalThis.Math;
const Number = globalThis.Number;

// Gauss hypergeometric function 2F1(a, b; c; z) for real parameters and real z < 1.
//
// - 0 ≤ z ≤ 1/2: the defining power series (terms shrink at least like 2^-n once n passes the
//   parameters).
// - 1/2 < z < 1: the connection formula to 1 − z (Abramowitz & Stegun 15.3.6), so both series run
//   in 1 − z < 1/2. When c − a − b is within TAU of an integer the two terms have poles that
//   cancel; we average the values at c ± TAU instead (error O(TAU²) ≈ 1e-10, cancellation loss
//   about 1e-16 / TAU ≈ 1e-11).
// - z < 0: the Pfaff transformation (A&S 15.3.4) to z / (z − 1) in (0, 1), which covers large |z|.
// - z = 1 when c − a − b > 0: Gauss's formula.

const SERIES_REL_TOL = 1e-16;
const MAX_SERIES_TERMS = 20_000;
/** Distance to a removable singularity below which we average two perturbed evaluations. */
export const SINGULARITY_TAU = 1e-5;

/**
 * Sum of the 2F1 series at z, or NaN when it has not converged within maxTerms. Stops when two
 * consecutive terms are negligible (one small term can be a near-zero Pochhammer factor).
 */
export function hypergeometricSeries(
  a: number,
  b: number,
  c: number,
  z: number,
  maxTerms: number,
): number {
  let term = 1;
  let sum = 1;
  let small = 0;
  for (let n = 0; n < maxTerms; n++) {
    term *= (((a + n) * (b + n)) / ((c + n) * (n + 1))) * z;
    sum += term;
    if (term === 0) return sum; // a or b is a non-positive integer: a polynomial.
    if (Math.abs(term) <= SERIES_REL_TOL * Math.abs(sum)) {
      if (++small === 2) return sum;
    } else {
      small = 0;
    }
  }
  return Number.NaN;
}

/** Γ(p1)Γ(p2) / (Γ(q1)Γ(q2)) with signs; 0 when a denominator argument is a pole. */
export function gammaRatio(p1: number, p2: number, q1: number, q2: number): number {
  const sq = gammaSign(q1) * gammaSign(q2);
  if (sq === 0) return 0;
  const sp = gammaSign(p1) * gammaSign(p2);
  return sp * sq * Math.exp(lnAbsGamma(p1) + lnAbsGamma(p2) - lnAbsGamma(q1) - lnAbsGamma(q2));
}

function distanceToInteger(v: number): number {
  return Math.abs(v - Math.round(v));
}

function isNonPositiveInteger(v: number): boolean {
  return v <= 0 && Number.isInteger(v);
}

/** 2F1 for 1/2 < z < 1 with c − a − b away from an integer, w = 1 − z passed in exactly. */
function connection(a: number, b: number, c: number, w: number): number {
  const m = c - a - b;
  const s1 = hypergeometricSeries(a, b, 1 - m, w, MAX_SERIES_TERMS);
  const s2 = hypergeometricSeries(c - a, c - b, 1 + m, w, MAX_SERIES_TERMS);
  const k1 = gammaRatio(c, m, c - a, c - b);
  const k2 = gammaRatio(c, -m, a, b);
  return k1 * s1 + (k2 === 0 ? 0 : Math.pow(w, m) * k2 * s2);
}

function inUnitInterval(a: number, b: number, c: number, z: number, w: number): number {
  if (z <= 0.5) return hypergeometricSeries(a, b, c, z, MAX_SERIES_TERMS);
  if (distanceToInteger(c - a - b) < SINGULARITY_TAU / 2) {
    return (
      0.5 * (connection(a, b, c + SINGULARITY_TAU, w) + connection(a, b, c - SINGULARITY_TAU, w))
    );
  }
  return connection(a, b, c, w);
}

/**
 * Gauss hypergeometric function 2F1(a, b; c; z).
 *
 * Domain: finite real a, b, c with c not in {0, −1, −2, ...}; real z < 1, or z = 1 when
 * c − a − b > 0. Outside it the function is complex or infinite and this throws a
 * CustomerValueError with code 'hypergeometric-domain'.
 */
export function hyp2f1(a: number, b: number, c: number, z: number): number {
  if (![a, b, c, z].every(Number.isFinite) || isNonPositiveInteger(c) || z > 1) {
    throw new CustomerValueError(
      'hypergeometric-domain',
      `2F1(${a}, ${b}; ${c}; ${z}) is outside the real domain`,
    );
  }
  if (z === 1) {
    if (c - a - b <= 0) {
      throw new CustomerValueError(
        'hypergeometric-domain',
        `2F1 diverges at z = 1 when c − a − b ≤ 0`,
      );
    }
    return gammaRatio(c, c - a - b, c - a, c - b);
  }
  if (z < 0) {
    // Pfaff: 2F1(a, b; c; z) = (1 − z)^(−a) 2F1(a, c − b; c; z / (z − 1)); 1 − u = 1 / (1 − z).
    const oneMinusZ = 1 - z;
    const u = z / (z - 1);
    return Math.pow(oneMinusZ, -a) * inUnitInterval(a, c - b, c, u, 1 / oneMinusZ);
  }
  return inUnitInterval(a, b, c, z, 1 - z);
}
