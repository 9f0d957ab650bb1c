import { assertBgNbdParameters, bgNbdExpectationNumerator, type BgNbdParameters } from './bg-nbd';
import { assertClvConfig, discountFactors, discountedPurchasesCore, type ClvConfig } from './clv';
import { CustomerValueError } from './errors';
import {
  assertGammaGammaParameters,
  conditionalSpend,
  type GammaGammaParameters,
} from './gamma-gamma';
import { logisticOfNegative } from './numerics/special-functions';

// Jest runs code in a vm context where every global lookup is slow; a module binding is not.
const Math = globalThis.Math;
const Number = globalThis.Number;
const NEG_INF = -globalThis.Infinity;

/** Customers as columns (typed arrays or plain arrays), index i is one customer. */
export interface CustomerColumns {
  readonly x: ArrayLike<number>;
  readonly tx: ArrayLike<number>;
  readonly T: ArrayLike<number>;
  /** Needed for expected order value and CLV. */
  readonly zbar?: ArrayLike<number>;
}

export interface ScoringConfig {
  /** Horizon of `expectedPurchases`, in model time units. */
  readonly purchaseHorizon: number;
  /** When given (with a Gamma-Gamma model), CLV is computed too. */
  readonly clv?: ClvConfig;
}

export interface ScoringModels {
  readonly bgNbd: BgNbdParameters;
  readonly gammaGamma?: GammaGammaParameters;
}

export interface ScoreColumns {
  readonly pAlive: Float64Array;
  readonly expectedPurchases: Float64Array;
  /** null without a Gamma-Gamma model or zbar column. */
  readonly expectedAverageOrderValue: Float64Array | null;
  /** null without a CLV config, Gamma-Gamma model or zbar column. */
  readonly clv: Float64Array | null;
}

function invalid(i: number, message: string): never {
  throw new CustomerValueError('invalid-customer', `customer #${i}: ${message}`);
}

/**
 * Scores many customers in one pass: P(alive), E[Y(horizon)], E[M] and CLV. Parameter-only
 * terms are computed once, outputs are preallocated typed arrays, and nothing is allocated per
 * customer. Throws CustomerValueError on a malformed row (with its index).
 */
export function scoreMany(
  models: ScoringModels,
  customers: CustomerColumns,
  config: ScoringConfig,
): ScoreColumns {
  const { bgNbd, gammaGamma } = models;
  assertBgNbdParameters(bgNbd);
  if (gammaGamma !== undefined) assertGammaGammaParameters(gammaGamma);
  if (config.clv !== undefined) assertClvConfig(config.clv);
  const horizon = config.purchaseHorizon;
  if (!(Number.isFinite(horizon) && horizon >= 0)) {
    throw new CustomerValueError(
      'invalid-options',
      `purchaseHorizon must be finite and >= 0, got ${horizon}`,
    );
  }
  const n = customers.x.length;
  if (
    customers.tx.length !== n ||
    customers.T.length !== n ||
    (customers.zbar !== undefined && customers.zbar.length !== n)
  ) {
    throw new CustomerValueError('invalid-options', 'customer columns differ in length');
  }
  const { r, alpha, a, b } = bgNbd;
  const lnA = Math.log(a);
  const pAlive = new Float64Array(n);
  const expectedPurchases = new Float64Array(n);
  const zbar = customers.zbar;
  const spend = gammaGamma !== undefined && zbar !== undefined ? new Float64Array(n) : null;
  const clv = spend !== null && config.clv !== undefined ? new Float64Array(n) : null;
  const factors = config.clv !== undefined ? discountFactors(config.clv) : null;
  const periodLength = config.clv?.periodLength ?? 0;

  for (let i = 0; i < n; i++) {
    const x = customers.x[i]!;
    const tx = customers.tx[i]!;
    const T = customers.T[i]!;
    if (!(x >= 0 && Number.isInteger(x))) invalid(i, `x must be a non-negative integer, got ${x}`);
    if (!(T >= 0 && T < Infinity)) invalid(i, `T must be finite and >= 0, got ${T}`);
    if (!(tx >= 0 && tx <= T)) invalid(i, `tx must be within [0, T], got ${tx}`);
    const lnOdds =
      x === 0
        ? NEG_INF
        : lnA - Math.log(b + x - 1) + (r + x) * (Math.log(alpha + T) - Math.log(alpha + tx));
    const alive = logisticOfNegative(lnOdds);
    pAlive[i] = alive;
    expectedPurchases[i] =
      alive === 0 ? 0 : bgNbdExpectationNumerator(r, alpha, a, b, x, T, horizon) * alive;
    if (spend !== null) {
      const z = zbar![i]!;
      if (!Number.isFinite(z)) invalid(i, `zbar must be finite, got ${z}`);
      const m = conditionalSpend(gammaGamma!.p, gammaGamma!.q, gammaGamma!.gamma, x, z);
      spend[i] = m;
      if (clv !== null)
        clv[i] =
          alive === 0 ? 0 : m * discountedPurchasesCore(bgNbd, x, tx, T, periodLength, factors!);
    }
  }
  return { pAlive, expectedPurchases, expectedAverageOrderValue: spend, clv };
}
