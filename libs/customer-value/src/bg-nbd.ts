// BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").
// While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after every
// purchase they drop out with probability p ~ Beta(a, b). Data per customer: x repeat
// purchases, the last at t_x, observed over (0, T].

import { CustomerValueError } from './errors';
import type { FitFailure, FitOptions, FitOutcome, FitResult } from './fit-result';
import { gammaRatio, hypergeometricSeries, SINGULARITY_TAU } from './numerics/hypergeometric';
import { nelderMead } from './numerics/nelder-mead';
import { lnGamma, logAddExp, logisticOfNegative } from './numerics/special-functions';

// Jest runs code in a vm context where every global lookup is slow; a module binding is not.
const Math = globalThis.Math;
const Number = globalThis.Number;
const NEG_INF = -globalThis.Infinity;

export const BG_NBD_MODEL_VERSION = 'bg-nbd/1.0.0';

export interface BgNbdParameters {
  readonly r: number;
  readonly alpha: number;
  readonly a: number;
  readonly b: number;
}

/** Frequency and recency of one customer, in model time units. */
export interface FrequencyRecency {
  /** Repeat purchases (a non-negative integer). */
  readonly x: number;
  /** Time of the last purchase since the first (0 when x = 0). */
  readonly tx: number;
  /** Time observed since the first purchase. */
  readonly T: number;
}

export type BgNbdFit = FitResult<'bg-nbd', BgNbdParameters>;

export function assertBgNbdParameters(p: BgNbdParameters): void {
  for (const [name, v] of Object.entries(p) as [string, number][]) {
    if (!(Number.isFinite(v) && v > 0)) {
      throw new CustomerValueError(
        'invalid-parameters',
        `BG/NBD parameter ${name} must be finite and > 0, got ${v}`,
      );
    }
  }
}

/** Why a summary is unusable, or null when it is fine. */
export function frequencyRecencyProblem(c: FrequencyRecency): string | null {
  if (!(Number.isInteger(c.x) && c.x >= 0)) return `x must be a non-negative integer, got ${c.x}`;
  if (!(Number.isFinite(c.T) && c.T >= 0)) return `T must be finite and >= 0, got ${c.T}`;
  if (!(Number.isFinite(c.tx) && c.tx >= 0 && c.tx <= c.T))
    return `tx must be within [0, T], got ${c.tx}`;
  return null;
}

function assertCustomer(c: FrequencyRecency): void {
  const problem = frequencyRecencyProblem(c);
  if (problem !== null) throw new CustomerValueError('invalid-customer', problem);
}

// ---------------------------------------------------------------------------------------------
// Likelihood

/**
 * Total log-likelihood (FHL 2005, eq. 6, in log space):
 *   ln L = lnΓ(r+x) − lnΓ(r) + r ln α + lnB(a, b+x) − lnB(a, b)
 *          + ln[ (α+T)^−(r+x) + δ(x>0) · a/(b+x−1) · (α+t_x)^−(r+x) ]
 * with the last bracket summed by log-sum-exp.
 */
export function bgNbdLogLikelihood(
  params: BgNbdParameters,
  customers: readonly FrequencyRecency[],
): number {
  assertBgNbdParameters(params);
  const { r, alpha, a, b } = params;
  const base = -lnGamma(r) + r * Math.log(alpha) + lnGamma(a + b) - lnGamma(b);
  let total = 0;
  for (const c of customers) {
    assertCustomer(c);
    total += customerLogLikelihood(r, alpha, a, b, base, c.x, c.tx, c.T);
  }
  return total;
}

function customerLogLikelihood(
  r: number,
  alpha: number,
  a: number,
  b: number,
  base: number,
  x: number,
  tx: number,
  T: number,
): number {
  const head = base + lnGamma(r + x) + lnGamma(b + x) - lnGamma(a + b + x);
  const stillAlive = -(r + x) * Math.log(alpha + T);
  const droppedAfterLast =
    x > 0 ? Math.log(a) - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx) : NEG_INF;
  return head + logAddExp(stillAlive, droppedAfterLast);
}

/** Customers collapsed to distinct (x, t_x, T) with counts, and distinct values indexed. */
class GroupedData {
  readonly xs: Float64Array;
  readonly ts: Float64Array;
  readonly txs: Float64Array;
  readonly groupX: Int32Array;
  readonly groupT: Int32Array;
  readonly groupTx: Int32Array;
  readonly weight: Float64Array;
  readonly total: number;
  readonly meanT: number;

  constructor(customers: readonly FrequencyRecency[]) {
    const xIndex = new Map<number, number>();
    const tIndex = new Map<number, number>();
    const txIndex = new Map<number, number>();
    const groups = new Map<string, number>();
    const gx: number[] = [];
    const gt: number[] = [];
    const gtx: number[] = [];
    const w: number[] = [];
    const indexOf = (m: Map<number, number>, v: number): number => {
      let i = m.get(v);
      if (i === undefined) {
        i = m.size;
        m.set(v, i);
      }
      return i;
    };
    let sumT = 0;
    for (const c of customers) {
      const ix = indexOf(xIndex, c.x);
      const it = indexOf(tIndex, c.T);
      // t_x does not enter the likelihood when x = 0.
      const itx = indexOf(txIndex, c.x > 0 ? c.tx : 0);
      const key = `${ix},${it},${itx}`;
      const g = groups.get(key);
      if (g === undefined) {
        groups.set(key, w.length);
        gx.push(ix);
        gt.push(it);
        gtx.push(itx);
        w.push(1);
      } else {
        w[g]!++;
      }
      sumT += c.T;
    }
    this.xs = Float64Array.from(xIndex.keys());
    this.ts = Float64Array.from(tIndex.keys());
    this.txs = Float64Array.from(txIndex.keys());
    this.groupX = Int32Array.from(gx);
    this.groupT = Int32Array.from(gt);
    this.groupTx = Int32Array.from(gtx);
    this.weight = Float64Array.from(w);
    this.total = customers.length;
    this.meanT = customers.length > 0 ? sumT / customers.length : 0;
  }
}

/** Log-likelihood over grouped data; the ln terms that depend on one value only are computed once. */
function groupedLogLikelihood(
  data: GroupedData,
  r: number,
  alpha: number,
  a: number,
  b: number,
  scratch: Scratch,
): number {
  const base = -lnGamma(r) + r * Math.log(alpha) + lnGamma(a + b) - lnGamma(b);
  const { head, drop, lnT, lnTx } = scratch;
  for (let i = 0; i < data.xs.length; i++) {
    const x = data.xs[i]!;
    head[i] = base + lnGamma(r + x) + lnGamma(b + x) - lnGamma(a + b + x);
    drop[i] = x > 0 ? Math.log(a) - Math.log(b + x - 1) : NEG_INF;
  }
  for (let i = 0; i < data.ts.length; i++) lnT[i] = Math.log(alpha + data.ts[i]!);
  for (let i = 0; i < data.txs.length; i++) lnTx[i] = Math.log(alpha + data.txs[i]!);
  let total = 0;
  const n = data.weight.length;
  for (let g = 0; g < n; g++) {
    const ix = data.groupX[g]!;
    const x = data.xs[ix]!;
    const alive = -(r + x) * lnT[data.groupT[g]!]!;
    const dropped = drop[ix]! - (r + x) * lnTx[data.groupTx[g]!]!;
    total += data.weight[g]! * (head[ix]! + logAddExp(alive, dropped));
  }
  return total;
}

interface Scratch {
  head: Float64Array;
  drop: Float64Array;
  lnT: Float64Array;
  lnTx: Float64Array;
}

const LOG_PARAMETER_LIMIT = 25; // e^25 ≈ 7e10: beyond this a parameter has run away.

/**
 * Maximum-likelihood fit of (r, α, a, b) by Nelder–Mead on the log-parameters with restarts.
 * Returns a typed failure instead of parameters when the data cannot identify the model.
 */
export function fitBgNbd(
  customers: readonly FrequencyRecency[],
  options: FitOptions,
): FitOutcome<'bg-nbd', BgNbdFit> {
  const fail = (code: FitFailure<'bg-nbd'>['code'], message: string): FitFailure<'bg-nbd'> => ({
    ok: false,
    model: 'bg-nbd',
    code,
    message,
    customers: customers.length,
  });
  const minCustomers = options.minCustomers ?? 10;
  for (let i = 0; i < customers.length; i++) {
    const problem = frequencyRecencyProblem(customers[i]!);
    if (problem !== null) return fail('invalid-input', `customer #${i}: ${problem}`);
  }
  if (customers.length < minCustomers) {
    return fail(
      'too-few-customers',
      `${customers.length} customers; at least ${minCustomers} are needed`,
    );
  }
  if (!customers.some((c) => c.x > 0)) {
    return fail(
      'no-repeat-purchases',
      'no customer made a repeat purchase, so dropout cannot be estimated',
    );
  }
  if (!customers.some((c) => c.T > 0)) {
    return fail('too-few-customers', 'every customer was observed for zero time');
  }

  const data = new GroupedData(customers);
  const scratch: Scratch = {
    head: new Float64Array(data.xs.length),
    drop: new Float64Array(data.xs.length),
    lnT: new Float64Array(data.ts.length),
    lnTx: new Float64Array(data.txs.length),
  };
  // Mean negative log-likelihood: its scale does not depend on the number of customers.
  const objective = (v: Float64Array): number => {
    for (let k = 0; k < 4; k++) if (Math.abs(v[k]!) > LOG_PARAMETER_LIMIT + 5) return Infinity;
    return (
      -groupedLogLikelihood(
        data,
        Math.exp(v[0]!),
        Math.exp(v[1]!),
        Math.exp(v[2]!),
        Math.exp(v[3]!),
        scratch,
      ) / data.total
    );
  };
  const start = [0, Math.log(Math.max(data.meanT, 1e-3)), 0, 0];
  const result = nelderMead(objective, start, {
    step: 1,
    xTol: 1e-9,
    fTol: 1e-13,
    maxIterations: options.maxIterations ?? 20_000,
    maxRestarts: 10,
  });
  const [lr, la, laa, lb] = Array.from(result.x) as [number, number, number, number];
  const runaway = ['r', 'alpha', 'a', 'b'].filter(
    (_, k) => Math.abs(result.x[k]!) > LOG_PARAMETER_LIMIT,
  );
  if (!Number.isFinite(result.value) || runaway.length > 0) {
    return fail(
      'degenerate',
      `the likelihood has no interior maximum (${runaway.join(', ') || 'non-finite'} ran away)`,
    );
  }
  const parameters: BgNbdParameters = {
    r: Math.exp(lr),
    alpha: Math.exp(la),
    a: Math.exp(laa),
    b: Math.exp(lb),
  };
  return {
    ok: true,
    fit: {
      model: 'bg-nbd',
      modelVersion: BG_NBD_MODEL_VERSION,
      parameters,
      logLikelihood: -result.value * data.total,
      customers: data.total,
      fittedAt: options.fittedAt,
      iterations: result.iterations,
      converged: result.converged,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Per-customer figures

/**
 * ln of a/(b+x−1) · ((α+T)/(α+t_x))^(r+x): the odds that the customer dropped out right after
 * the last purchase against still being alive. −Infinity when x = 0 (cannot have dropped).
 */
function lnDropOdds(p: BgNbdParameters, x: number, tx: number, T: number): number {
  if (x === 0) return NEG_INF;
  return (
    Math.log(p.a) -
    Math.log(p.b + x - 1) +
    (p.r + x) * (Math.log(p.alpha + T) - Math.log(p.alpha + tx))
  );
}

/** P(alive | x, t_x, T) = 1 / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x)). */
export function probabilityAlive(params: BgNbdParameters, customer: FrequencyRecency): number {
  assertBgNbdParameters(params);
  assertCustomer(customer);
  return logisticOfNegative(lnDropOdds(params, customer.x, customer.tx, customer.T));
}

/**
 * E[X(t)] for a customer just acquired (FHL 2005 eq. 9):
 *   (a+b−1)/(a−1) · [1 − (α/(α+t))^r 2F1(r, b; a+b−1; t/(α+t))].
 * Equal to the conditional expectation with x = t_x = T = 0.
 */
export function expectedPurchases(params: BgNbdParameters, t: number): number {
  return conditionalExpectedPurchases(params, { x: 0, tx: 0, T: 0 }, t);
}

/**
 * E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL 2005 eq. 10):
 *   (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x−1; t/(α+T+t))]
 *   / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x)).
 */
export function conditionalExpectedPurchases(
  params: BgNbdParameters,
  customer: FrequencyRecency,
  t: number,
): number {
  assertBgNbdParameters(params);
  assertCustomer(customer);
  if (!(Number.isFinite(t) && t >= 0))
    throw new CustomerValueError('invalid-options', `t must be finite and >= 0, got ${t}`);
  const { x, tx, T } = customer;
  const odds = lnDropOdds(params, x, tx, T);
  const numerator = bgNbdExpectationNumerator(params.r, params.alpha, params.a, params.b, x, T, t);
  return numerator * logisticOfNegative(odds);
}

/**
 * The numerator of E[Y(t) | x, t_x, T], written so that it has no removable singularity.
 * With s = α+T, z = t/(s+t), w = s/(s+t) = 1−z, c = a+b+x−1, ε = a−1, A = a+b−1−r, Euler's
 * transformation gives w^(r+x) 2F1(r+x, b+x; c; z) = w^ε F with F = 2F1(A, ε; c; z), so
 *   K = c (1 − w^ε F) / ε = c (1 − w^ε)/ε − w^ε H,   H = c (F − 1)/ε.
 * H is a power series whose terms contain neither 1/ε nor 1/c, so a = 1 and a + b = 1 are no
 * trouble, and for large x (large c) it converges in a few terms even for z near 1.
 */
export function bgNbdExpectationNumerator(
  r: number,
  alpha: number,
  a: number,
  b: number,
  x: number,
  T: number,
  t: number,
): number {
  if (t === 0) return 0;
  const s = alpha + T;
  const z = t / (s + t);
  const w = s / (s + t);
  return expectationCore(r, a, b, x, z, w);
}

const FAST_SERIES_TERMS = 120;
const MAX_SERIES_TERMS = 20_000;
const RESCALE_AT = 1e250;
const LN_RESCALE = Math.log(RESCALE_AT);

/** ln of the factor by which the last scaledSeries result must be multiplied (0 = none). */
let seriesLogScale = 0;

/**
 * Σ_{n≥1} h_n with h_1 = first and h_{n+1} = h_n (P+n)(Q+n) z / ((C+n)(n+1)). Terms and sum are
 * rescaled when they grow past 1e250 (large parameters), with the exponent left in
 * seriesLogScale. NaN when not converged within maxTerms.
 */
function scaledSeries(
  first: number,
  P: number,
  Q: number,
  C: number,
  z: number,
  maxTerms: number,
): number {
  seriesLogScale = 0;
  let term = first;
  let sum = term;
  if (term === 0) return 0;
  let small = 0;
  for (let n = 1; n < maxTerms; n++) {
    term *= (((P + n) * (Q + n)) / ((C + n) * (n + 1))) * z;
    sum += term;
    if (Math.abs(sum) > RESCALE_AT) {
      sum /= RESCALE_AT;
      term /= RESCALE_AT;
      seriesLogScale += LN_RESCALE;
    }
    if (term === 0) return sum;
    if (Math.abs(term) <= 1e-16 * Math.abs(sum)) {
      if (++small === 2) return sum;
    } else {
      small = 0;
    }
  }
  return Number.NaN;
}

/** v · e^(lnFactor + seriesLogScale), without overflow in between. */
function unscale(v: number, lnFactor: number): number {
  if (v === 0) return 0;
  return Math.sign(v) * Math.exp(Math.log(Math.abs(v)) + lnFactor + seriesLogScale);
}

function expectationCore(r: number, a: number, b: number, x: number, z: number, w: number): number {
  const value = expectationBySeries(r, a, b, x, z, w);
  // Last resort for parameter corners where no series form converges well.
  return Number.isFinite(value) && value >= -1e-9 * (1 + Math.abs(value))
    ? Math.max(value, 0)
    : expectationByQuadrature(r, a, b, x, z, w);
}

function expectationBySeries(
  r: number,
  a: number,
  b: number,
  x: number,
  z: number,
  w: number,
): number {
  const eps = a - 1;
  const c = a + b + x - 1;
  const A = a + b - 1 - r;
  const lnW = Math.log(w);
  const first = eps === 0 ? -lnW : -Math.expm1(eps * lnW) / eps;

  // Euler form: K = c·first − w^ε H, H = Σ (A)_n (a)_{n−1} z^n / ((c+1)_{n−1} n!). Its terms
  // grow for a while when A·ε ≫ c (large a); the original form is better then.
  const eulerGrowth = Math.abs(A * eps);
  const originalGrowth = (r + x) * (b + x);
  if (eulerGrowth <= originalGrowth || Math.abs(eps) < 0.5) {
    const H = scaledSeries(A * z, A, eps, c, z, z <= 0.5 ? MAX_SERIES_TERMS : FAST_SERIES_TERMS);
    if (!Number.isNaN(H)) return c * first - unscale(H, eps * lnW);
  } else {
    // Original form: K = (c/ε)(1 − w^(r+x) F0), F0 = 2F1(r+x, b+x; c; z); no cancellation for |ε| ≥ 1/2.
    const S = scaledSeries(((r + x) * (b + x) * z) / c, r + x, b + x, c, z, MAX_SERIES_TERMS);
    if (!Number.isNaN(S)) {
      const wF0 = Math.exp((r + x) * lnW) + unscale(S, (r + x) * lnW);
      return (c / eps) * (1 - wF0);
    }
  }
  if (z <= 0.5) return Number.NaN;
  // z close to 1 and c moderate: connect to 1 − z. Its terms have poles at ε = 0 and at
  // integer m = c − A − ε, removable in the sum; step around them symmetrically.
  if (Math.abs(eps) < SINGULARITY_TAU / 2) {
    return (
      0.5 *
      (expectationBySeries(r, a + SINGULARITY_TAU, b, x, z, w) +
        expectationBySeries(r, a - SINGULARITY_TAU, b, x, z, w))
    );
  }
  const m = x + r - a + 1;
  if (Math.abs(m - Math.round(m)) < SINGULARITY_TAU / 2) {
    return (
      0.5 *
      (expectationBySeries(r + SINGULARITY_TAU, a, b, x, z, w) +
        expectationBySeries(r - SINGULARITY_TAU, a, b, x, z, w))
    );
  }
  // c·F by A&S 15.3.6 with c·Γ(c) = Γ(c+1), finite for every c > −1.
  const k1 = gammaRatio(c + 1, m, x + r, b + x);
  const k2 = gammaRatio(c + 1, -m, A, eps);
  const s1 = hypergeometricSeries(A, eps, 1 - m, w, MAX_SERIES_TERMS);
  const s2 = k2 === 0 ? 0 : hypergeometricSeries(x + r, b + x, 1 + m, w, MAX_SERIES_TERMS);
  const cF = k1 * s1 + (k2 === 0 ? 0 : Math.exp(m * lnW) * k2 * s2);
  const H = (cF - c) / eps;
  return c * first - Math.exp(eps * lnW) * H;
}

/**
 * K = E[(1 − (1 + p t/s)^−(r+x)) / p] for p ~ Beta(a, b+x), by quadrature over p (the integral
 * that the 2F1 closed form solves). Slower, but it holds for every parameter value: the pieces
 * next to p = 0 and p = 1, where the Beta density may be singular and the integrand is flat,
 * are integrated in closed form; tanh-sinh handles the rest.
 */
export function expectationByQuadrature(
  r: number,
  a: number,
  b: number,
  x: number,
  z: number,
  w: number,
): number {
  const rate = z / w; // t / s
  const shape = r + x;
  const bb = b + x;
  const lnBeta = lnGamma(a) + lnGamma(bb) - lnGamma(a + bb);
  const g = (p: number): number =>
    p * rate < 1e-14 ? shape * rate : -Math.expm1(-shape * Math.log1p(p * rate)) / p;
  // Below p0 the integrand is shape·rate and (1−p)^(bb−1) ≈ 1; above 1 − q1 it is g(1) and p^(a−1) ≈ 1.
  const p0 = Math.min(1e-10 / (1 + shape * rate), 1e-10 / (1 + Math.abs(bb - 1)));
  const q1 = 1e-10 / (1 + Math.abs(a - 1) + shape);
  let sum = shape * rate * Math.exp(a * Math.log(p0) - Math.log(a) - lnBeta);
  sum += g(1) * Math.exp(bb * Math.log(q1) - Math.log(bb) - lnBeta);
  const width = 1 - p0 - q1;
  const h = 1 / 64;
  let inner = 0;
  for (let u = -4.5; u <= 4.5; u += h) {
    const v = Math.PI * Math.sinh(u);
    // σ = 1/(1+e^−v) and 1 − σ without cancellation.
    const lnSigma = -Math.log1p(Math.exp(-v));
    const lnOneMinusSigma = -Math.log1p(Math.exp(v));
    const sigma = Math.exp(lnSigma);
    const p = p0 + width * sigma;
    const lnP = Math.log(p);
    const ln1mP = Math.log(q1 + width * Math.exp(lnOneMinusSigma));
    const jacobian = Math.log(width) + lnSigma + lnOneMinusSigma + Math.log(Math.PI * Math.cosh(u));
    inner += Math.exp((a - 1) * lnP + (bb - 1) * ln1mP - lnBeta + jacobian) * g(p);
  }
  return sum + inner * h;
}
