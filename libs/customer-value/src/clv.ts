import {
  assertBgNbdParameters,
  bgNbdExpectationNumerator,
  type BgNbdParameters,
  type FrequencyRecency,
  frequencyRecencyProblem,
} from './bg-nbd';
import { CustomerValueError } from './errors';
import {
  assertGammaGammaParameters,
  conditionalSpend,
  type FrequencyMonetary,
  type GammaGammaParameters,
} from './gamma-gamma';
import { logisticOfNegative } from './numerics/special-functions';

// Jest runs code in a vm context where every global lookup is slow; a module binding is not.
const Math = globalThis.Math;

/**
 * Discounted CLV over a finite horizon, in discrete periods:
 *   CLV = E[M | x, zbar] · Σ_{k=1..periods} (E[Y(k·L)] − E[Y((k−1)·L)]) / (1 + d)^k
 * where L = periodLength (model time units per period), d = discountRatePerPeriod, and
 * E[Y(t)] is the BG/NBD conditional expectation. Purchases in period k are discounted as if
 * they happened at its end.
 */
export interface ClvConfig {
  /** Length of one discount period in model time units (e.g. 52/12 for months when the unit is the week). */
  readonly periodLength: number;
  /** Number of periods in the horizon. */
  readonly periods: number;
  /** Discount rate per period (0.01 = 1 % per period). */
  readonly discountRatePerPeriod: number;
}

export function assertClvConfig(config: ClvConfig): void {
  const { periodLength, periods, discountRatePerPeriod } = config;
  if (!(Number.isFinite(periodLength) && periodLength > 0)) {
    throw new CustomerValueError(
      'invalid-options',
      `periodLength must be > 0, got ${periodLength}`,
    );
  }
  if (!(Number.isInteger(periods) && periods >= 0 && periods <= 100_000)) {
    throw new CustomerValueError(
      'invalid-options',
      `periods must be an integer in [0, 100000], got ${periods}`,
    );
  }
  if (!(Number.isFinite(discountRatePerPeriod) && discountRatePerPeriod > -1)) {
    throw new CustomerValueError(
      'invalid-options',
      `discountRatePerPeriod must be > -1, got ${discountRatePerPeriod}`,
    );
  }
}

/** 1 / (1 + d)^k for k = 1..periods. */
export function discountFactors(config: ClvConfig): Float64Array {
  const f = new Float64Array(config.periods);
  const step = 1 / (1 + config.discountRatePerPeriod);
  let v = 1;
  for (let k = 0; k < config.periods; k++) {
    v *= step;
    f[k] = v;
  }
  return f;
}

export interface ClvModels {
  readonly bgNbd: BgNbdParameters;
  readonly gammaGamma: GammaGammaParameters;
}

/** Discounted expected purchases over the horizon (the Σ above, without the spend). */
export function discountedExpectedPurchases(
  params: BgNbdParameters,
  customer: FrequencyRecency,
  config: ClvConfig,
): number {
  assertBgNbdParameters(params);
  assertClvConfig(config);
  const problem = frequencyRecencyProblem(customer);
  if (problem !== null) throw new CustomerValueError('invalid-customer', problem);
  return discountedPurchasesCore(
    params,
    customer.x,
    customer.tx,
    customer.T,
    config.periodLength,
    discountFactors(config),
  );
}

export function customerLifetimeValue(
  models: ClvModels,
  customer: FrequencyRecency & FrequencyMonetary,
  config: ClvConfig,
): number {
  assertGammaGammaParameters(models.gammaGamma);
  const { p, q, gamma } = models.gammaGamma;
  return (
    conditionalSpend(p, q, gamma, customer.x, customer.zbar) *
    discountedExpectedPurchases(models.bgNbd, customer, config)
  );
}

/** Unchecked core shared with scoreMany. */
export function discountedPurchasesCore(
  params: BgNbdParameters,
  x: number,
  tx: number,
  T: number,
  periodLength: number,
  factors: Float64Array,
): number {
  const { r, alpha, a, b } = params;
  let previous = 0;
  let sum = 0;
  for (let k = 0; k < factors.length; k++) {
    const current = bgNbdExpectationNumerator(r, alpha, a, b, x, T, (k + 1) * periodLength);
    sum += (current - previous) * factors[k]!;
    previous = current;
  }
  // The P(alive) denominator is common to every period.
  if (x === 0) return sum;
  const lnOdds =
    Math.log(a) - Math.log(b + x - 1) + (r + x) * (Math.log(alpha + T) - Math.log(alpha + tx));
  return sum * logisticOfNegative(lnOdds);
}
