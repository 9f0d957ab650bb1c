/**
 * Product affinity from co-purchases ("customers who bought A also bought B").
 *
 * The basket is a customer: the distinct products they ever bought, not one order. Orders are
 * sparse (most hold one or two products), and the question analysts ask is about customers.
 * Over the customers that bought at least one product (N), for an ordered pair A → B:
 *
 *   support    = P(A ∧ B) = n(A ∧ B) / N
 *   confidence = P(B | A) = n(A ∧ B) / n(A)
 *   lift       = P(B | A) / P(B) = n(A ∧ B) · N / (n(A) · n(B))
 *
 * Lift 1: buying A says nothing about B; above 1: A's buyers buy B more often than customers do.
 */

export type CrossSellErrorCode = 'invalid-options' | 'invalid-counts';

/** Thrown for bad arguments at the library edge (options out of range, inconsistent counts). */
export class CrossSellError extends Error {
  override readonly name = 'CrossSellError';
  constructor(
    readonly code: CrossSellErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface AffinityOptions {
  /** A pair is kept only when at least this many customers bought both (an integer ≥ 1). */
  readonly minCustomers: number;
  /** ...and when its support n(A ∧ B) / N is at least this fraction (0 to 1). */
  readonly minSupport: number;
  /**
   * Customers with more distinct products are left out of the computation altogether (in N as
   * well): one reseller with k products makes k(k−1)/2 pairs and says little about affinity.
   */
  readonly maxProductsPerCustomer: number;
  /** At most this many pairs are kept, those bought together by the most customers first. */
  readonly maxPairs: number;
}

export const DEFAULT_AFFINITY_OPTIONS: AffinityOptions = {
  minCustomers: 2,
  minSupport: 0,
  maxProductsPerCustomer: 1_000,
  maxPairs: 100_000,
};

export const AFFINITY_OPTION_LIMITS = {
  minCustomers: { min: 1, max: 1_000_000_000 },
  minSupport: { min: 0, max: 1 },
  maxProductsPerCustomer: { min: 2, max: 100_000 },
  maxPairs: { min: 1, max: 5_000_000 },
} as const;

/** The defaults with the given fields, each checked against AFFINITY_OPTION_LIMITS. */
export function affinityOptionsOrThrow(given: Partial<AffinityOptions> = {}): AffinityOptions {
  const options = { ...DEFAULT_AFFINITY_OPTIONS, ...given };
  for (const field of Object.keys(AFFINITY_OPTION_LIMITS) as (keyof AffinityOptions)[]) {
    const { min, max } = AFFINITY_OPTION_LIMITS[field];
    const value = options[field];
    const integer = field !== 'minSupport';
    if (
      !Number.isFinite(value) ||
      value < min ||
      value > max ||
      (integer && !Number.isInteger(value))
    ) {
      throw new CrossSellError(
        'invalid-options',
        `${field} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
      );
    }
  }
  return options;
}

/** A pair's counts, for an unordered pair a < b. */
export interface PairCount {
  readonly a: string;
  readonly b: string;
  /** Customers who bought both. */
  readonly both: number;
  /** Customers who bought a; customers who bought b. */
  readonly customersA: number;
  readonly customersB: number;
}

export interface CoPurchaseCounts {
  /** N: customers with at least one product, within maxProductsPerCustomer. */
  readonly customers: number;
  /** Customers left out for having more than maxProductsPerCustomer products. */
  readonly excludedCustomers: number;
  /** Distinct products bought by the N customers. */
  readonly products: number;
  /** Pairs that pass both thresholds, most customers first, at most maxPairs of them. */
  readonly pairs: readonly PairCount[];
  /** True when more pairs passed the thresholds than maxPairs. */
  readonly truncated: boolean;
}

export interface AffinityRule {
  readonly antecedent: string;
  readonly consequent: string;
  readonly customersBoth: number;
  readonly customersAntecedent: number;
  readonly customersConsequent: number;
  readonly support: number;
  readonly confidence: number;
  readonly lift: number;
}

export interface AffinityResult extends Omit<CoPurchaseCounts, 'pairs'> {
  /** Pairs kept (each gives two rules). */
  readonly pairs: number;
  /** Both directions of every pair kept, by antecedent, then lift (highest first), then consequent. */
  readonly rules: readonly AffinityRule[];
}

/**
 * The fewest customers a pair must have been bought by: minCustomers, and minSupport × N rounded
 * up (with a 1e-9 tolerance, so minSupport 0.3 of 10 customers asks 3, not 4 for a rounding
 * error). The SQL computes the same expression.
 */
export function minimumPairCustomers(
  customers: number,
  options: Pick<AffinityOptions, 'minCustomers' | 'minSupport'>,
): number {
  return Math.max(options.minCustomers, Math.ceil(options.minSupport * customers - 1e-9));
}

/** Most customers first, then by product ids: a stable order, so truncation is deterministic. */
export function comparePairs(x: PairCount, y: PairCount): number {
  if (x.both !== y.both) return y.both - x.both;
  if (x.a !== y.a) return x.a < y.a ? -1 : 1;
  if (x.b !== y.b) return x.b < y.b ? -1 : 1;
  return 0;
}

/**
 * Counts customers per product and per pair of products. Products are de-duplicated per
 * customer; customers with no product are not part of N.
 */
export function countCoPurchases(
  baskets: ReadonlyMap<string, Iterable<string>>,
  options: AffinityOptions = DEFAULT_AFFINITY_OPTIONS,
): CoPurchaseCounts {
  const valid = affinityOptionsOrThrow(options);
  let customers = 0;
  let excludedCustomers = 0;
  const perProduct = new Map<string, number>();
  const perPair = new Map<string, { a: string; b: string; both: number }>();
  for (const bought of baskets.values()) {
    const products = [...new Set(bought)].sort();
    if (products.length === 0) continue;
    if (products.length > valid.maxProductsPerCustomer) {
      excludedCustomers += 1;
      continue;
    }
    customers += 1;
    for (let i = 0; i < products.length; i += 1) {
      const a = products[i]!;
      perProduct.set(a, (perProduct.get(a) ?? 0) + 1);
      for (let j = i + 1; j < products.length; j += 1) {
        const b = products[j]!;
        const key = `${a}\u0000${b}`;
        const pair = perPair.get(key);
        if (pair === undefined) perPair.set(key, { a, b, both: 1 });
        else pair.both += 1;
      }
    }
  }
  const minimum = minimumPairCustomers(customers, valid);
  const passing: PairCount[] = [];
  for (const { a, b, both } of perPair.values()) {
    if (both < minimum) continue;
    passing.push({ a, b, both, customersA: perProduct.get(a)!, customersB: perProduct.get(b)! });
  }
  passing.sort(comparePairs);
  return {
    customers,
    excludedCustomers,
    products: perProduct.size,
    pairs: passing.slice(0, valid.maxPairs),
    truncated: passing.length > valid.maxPairs,
  };
}

function checkCountsOrThrow(counts: CoPurchaseCounts): void {
  const { customers } = counts;
  if (!Number.isInteger(customers) || customers < 0)
    throw new CrossSellError('invalid-counts', 'customers must be a non-negative integer');
  for (const pair of counts.pairs) {
    const { a, b, both, customersA, customersB } = pair;
    const ok =
      a !== b &&
      [both, customersA, customersB].every((n) => Number.isInteger(n) && n >= 1) &&
      both <= customersA &&
      both <= customersB &&
      customersA <= customers &&
      customersB <= customers;
    if (!ok) {
      throw new CrossSellError(
        'invalid-counts',
        `pair ${JSON.stringify(a)} / ${JSON.stringify(b)} has impossible counts (both ${both}, ${customersA} and ${customersB} of ${customers} customers)`,
      );
    }
  }
}

/** Support, confidence and lift, both directions, for every pair that passes the thresholds. */
export function affinityFromCounts(
  counts: CoPurchaseCounts,
  options: AffinityOptions = DEFAULT_AFFINITY_OPTIONS,
): AffinityResult {
  const valid = affinityOptionsOrThrow(options);
  checkCountsOrThrow(counts);
  const { customers } = counts;
  const minimum = minimumPairCustomers(customers, valid);
  const kept = counts.pairs.filter((p) => p.both >= minimum);
  const rules: AffinityRule[] = [];
  const rule = (
    antecedent: string,
    consequent: string,
    both: number,
    nA: number,
    nB: number,
  ): AffinityRule => ({
    antecedent,
    consequent,
    customersBoth: both,
    customersAntecedent: nA,
    customersConsequent: nB,
    support: both / customers,
    confidence: both / nA,
    // One division of exact integer products: equal counts give exactly 1.
    lift: (both * customers) / (nA * nB),
  });
  for (const p of kept) {
    rules.push(rule(p.a, p.b, p.both, p.customersA, p.customersB));
    rules.push(rule(p.b, p.a, p.both, p.customersB, p.customersA));
  }
  rules.sort((x, y) => {
    if (x.antecedent !== y.antecedent) return x.antecedent < y.antecedent ? -1 : 1;
    if (x.lift !== y.lift) return y.lift - x.lift;
    return x.consequent < y.consequent ? -1 : x.consequent > y.consequent ? 1 : 0;
  });
  return {
    customers,
    excludedCustomers: counts.excludedCustomers,
    products: counts.products,
    pairs: kept.length,
    truncated: counts.truncated,
    rules,
  };
}

/** The whole computation over customer → products, in memory (bounded by the options). */
export function productAffinity(
  baskets: ReadonlyMap<string, Iterable<string>>,
  options: Partial<AffinityOptions> = {},
): AffinityResult {
  const valid = affinityOptionsOrThrow(options);
  return affinityFromCounts(countCoPurchases(baskets, valid), valid);
}
