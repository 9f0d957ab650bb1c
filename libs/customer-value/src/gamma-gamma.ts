// Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for
// Customer Base Analysis"; Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value").
// Each transaction's value is Gamma(p, ν); ν varies across customers as Gamma(q, γ). Spend is
// assumed independent of the purchase process, so it is fitted on repeat buyers only.

import { CustomerValueError } from './errors';
import type { FitFailure, FitOptions, FitOutcome, FitResult } from './fit-result';
import { nelderMead } from './numerics/nelder-mead';
import { lnGamma } from './numerics/special-functions';

// Jest runs code in a vm context where every global lookup is slow; a module binding is not.
const Math = globalThis.Math;

export const GAMMA_GAMMA_MODEL_VERSION = 'gamma-gamma/1.0.0';

export interface GammaGammaParameters {
  readonly p: number;
  readonly q: number;
  readonly gamma: number;
}

/** Repeat purchases and their mean value (zbar = 0 when x = 0). */
export interface FrequencyMonetary {
  readonly x: number;
  readonly zbar: number;
}

export interface GammaGammaFit extends FitResult<'gamma-gamma', GammaGammaParameters> {
  /** Repeat buyers left out because their mean spend was not positive (refunds, free items). */
  readonly excludedCustomers: number;
}

export function assertGammaGammaParameters(params: GammaGammaParameters): void {
  for (const [name, v] of Object.entries(params) as [string, number][]) {
    if (!(Number.isFinite(v) && v > 0)) {
      throw new CustomerValueError(
        'invalid-parameters',
        `Gamma-Gamma parameter ${name} must be finite and > 0, got ${v}`,
      );
    }
  }
  if (params.q <= 1) {
    throw new CustomerValueError(
      'invalid-parameters',
      `Gamma-Gamma q must be > 1 for the mean spend to exist, got ${params.q}`,
    );
  }
}

function frequencyMonetaryProblem(c: FrequencyMonetary): string | null {
  if (!(Number.isInteger(c.x) && c.x >= 0)) return `x must be a non-negative integer, got ${c.x}`;
  if (!Number.isFinite(c.zbar)) return `zbar must be finite, got ${c.zbar}`;
  return null;
}

/**
 * Log-likelihood of the repeat buyers' mean spend (x > 0, zbar > 0; others contribute nothing):
 *   lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + (px−1) ln zbar + px ln x − (px+q) ln(γ + x·zbar)
 */
export function gammaGammaLogLikelihood(
  params: GammaGammaParameters,
  customers: readonly FrequencyMonetary[],
): number {
  const { p, q, gamma } = params;
  if (![p, q, gamma].every((v) => Number.isFinite(v) && v > 0)) {
    throw new CustomerValueError(
      'invalid-parameters',
      'Gamma-Gamma parameters must be finite and > 0',
    );
  }
  let total = 0;
  for (const { x, zbar } of customers) {
    if (x <= 0 || !(zbar > 0)) continue;
    const px = p * x;
    total +=
      lnGamma(px + q) -
      lnGamma(px) -
      lnGamma(q) +
      q * Math.log(gamma) +
      (px - 1) * Math.log(zbar) +
      px * Math.log(x) -
      (px + q) * Math.log(gamma + x * zbar);
  }
  return total;
}

const LOG_PARAMETER_LIMIT = 25;

/** Maximum-likelihood fit of (p, q, γ) on the customers with x > 0 and zbar > 0. */
export function fitGammaGamma(
  customers: readonly FrequencyMonetary[],
  options: FitOptions,
): FitOutcome<'gamma-gamma', GammaGammaFit> {
  const fail = (
    code: FitFailure<'gamma-gamma'>['code'],
    message: string,
    n: number,
  ): FitFailure<'gamma-gamma'> => ({
    ok: false,
    model: 'gamma-gamma',
    code,
    message,
    customers: n,
  });
  const xs: number[] = [];
  const zs: number[] = [];
  let excluded = 0;
  for (let i = 0; i < customers.length; i++) {
    const c = customers[i]!;
    const problem = frequencyMonetaryProblem(c);
    if (problem !== null)
      return fail('invalid-input', `customer #${i}: ${problem}`, customers.length);
    if (c.x === 0) continue;
    if (c.zbar > 0) {
      xs.push(c.x);
      zs.push(c.zbar);
    } else {
      excluded++;
    }
  }
  const n = xs.length;
  const minCustomers = options.minCustomers ?? 10;
  if (n === 0)
    return fail('no-repeat-purchases', 'no customer with a repeat purchase of positive value', 0);
  if (n < minCustomers)
    return fail('too-few-customers', `${n} repeat buyers; at least ${minCustomers} are needed`, n);

  // Terms that do not depend on the parameters, and the distinct x values for the lnΓ terms.
  const xIndex = new Map<number, number>();
  const ix = new Int32Array(n);
  const lnZ = new Float64Array(n);
  const zArr = Float64Array.from(zs);
  const xArr = Float64Array.from(xs);
  let constant = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    let k = xIndex.get(x);
    if (k === undefined) {
      k = xIndex.size;
      xIndex.set(x, k);
    }
    ix[i] = k;
    lnZ[i] = Math.log(zs[i]!);
    constant += Math.log(x) * x; // multiplied by p below
  }
  const distinctX = Float64Array.from(xIndex.keys());
  const head = new Float64Array(distinctX.length);
  let sumLnZ = 0;
  let sumXLnZ = 0;
  for (let i = 0; i < n; i++) {
    sumLnZ += lnZ[i]!;
    sumXLnZ += xArr[i]! * lnZ[i]!;
  }

  const logLikelihood = (p: number, q: number, gamma: number): number => {
    const lnGammaQ = lnGamma(q);
    for (let k = 0; k < distinctX.length; k++) {
      const px = p * distinctX[k]!;
      head[k] = lnGamma(px + q) - lnGamma(px) - lnGammaQ;
    }
    // Σ (px−1) ln zbar + px ln x, summed once per evaluation from precomputed sums.
    let total = n * q * Math.log(gamma) + p * sumXLnZ - sumLnZ + p * constant;
    for (let i = 0; i < n; i++) {
      const x = xArr[i]!;
      total += head[ix[i]!]! - (p * x + q) * Math.log(gamma + x * zArr[i]!);
    }
    return total;
  };
  const objective = (v: Float64Array): number => {
    for (let k = 0; k < 3; k++) if (Math.abs(v[k]!) > LOG_PARAMETER_LIMIT + 5) return Infinity;
    return -logLikelihood(Math.exp(v[0]!), Math.exp(v[1]!), Math.exp(v[2]!)) / n;
  };
  const meanZ = zs.reduce((s, z) => s + z, 0) / n;
  const result = nelderMead(objective, [0, Math.log(2), Math.log(meanZ)], {
    step: 1,
    xTol: 1e-9,
    fTol: 1e-13,
    maxIterations: options.maxIterations ?? 20_000,
    maxRestarts: 10,
  });
  const runaway = ['p', 'q', 'gamma'].filter(
    (_, k) => Math.abs(result.x[k]!) > LOG_PARAMETER_LIMIT,
  );
  if (!Number.isFinite(result.value) || runaway.length > 0) {
    return fail(
      'degenerate',
      `the likelihood has no interior maximum (${runaway.join(', ') || 'non-finite'} ran away)`,
      n,
    );
  }
  const parameters = {
    p: Math.exp(result.x[0]!),
    q: Math.exp(result.x[1]!),
    gamma: Math.exp(result.x[2]!),
  };
  if (parameters.q <= 1) {
    return fail(
      'degenerate',
      `fitted q = ${parameters.q} ≤ 1: the population mean spend would be infinite`,
      n,
    );
  }
  return {
    ok: true,
    fit: {
      model: 'gamma-gamma',
      modelVersion: GAMMA_GAMMA_MODEL_VERSION,
      parameters,
      logLikelihood: -result.value * n,
      customers: n,
      excludedCustomers: excluded,
      fittedAt: options.fittedAt,
      iterations: result.iterations,
      converged: result.converged,
    },
  };
}

/**
 * E[M | x, zbar] = (γ + x·zbar)·p / (p·x + q − 1): a weighted mean of the population mean
 * p·γ/(q−1) and the customer's own zbar. For x = 0 it is the population mean.
 */
export function expectedAverageOrderValue(
  params: GammaGammaParameters,
  customer: FrequencyMonetary,
): number {
  assertGammaGammaParameters(params);
  const problem = frequencyMonetaryProblem(customer);
  if (problem !== null) throw new CustomerValueError('invalid-customer', problem);
  return conditionalSpend(params.p, params.q, params.gamma, customer.x, customer.zbar);
}

/** Unchecked core shared with scoreMany. */
export function conditionalSpend(
  p: number,
  q: number,
  gamma: number,
  x: number,
  zbar: number,
): number {
  if (x === 0) return (p * gamma) / (q - 1);
  return ((gamma + x * zbar) * p) / (p * x + q - 1);
}
