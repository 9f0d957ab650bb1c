import {
  affinityFromCounts,
  affinityOptionsOrThrow,
  type AffinityRule,
  countCoPurchases,
  CrossSellError,
  DEFAULT_AFFINITY_OPTIONS,
  minimumPairCustomers,
  productAffinity,
} from './index';

const baskets = (entries: Record<string, string[]>) => new Map(Object.entries(entries));

const ruleOf = (rules: readonly AffinityRule[], antecedent: string, consequent: string) => {
  const rule = rules.find((r) => r.antecedent === antecedent && r.consequent === consequent);
  if (rule === undefined) throw new Error(`no rule ${antecedent} → ${consequent}`);
  return rule;
};

/*
 * The hand-checked example. Five customers:
 *   c1: A B      c2: A B C      c3: A C      c4: B      c5: D
 * N = 5; n(A) = 3, n(B) = 3, n(C) = 2, n(D) = 1; n(A∧B) = 2, n(A∧C) = 2, n(B∧C) = 1.
 */
const FIVE = baskets({
  c1: ['A', 'B'],
  c2: ['A', 'B', 'C'],
  c3: ['A', 'C'],
  c4: ['B'],
  c5: ['D'],
});

describe('product affinity: the hand-checked example', () => {
  it('gives support, confidence and lift of every pair bought by at least two customers', () => {
    // Given five customers' products, When affinity is computed with the defaults (min 2 customers)
    const result = productAffinity(FIVE);
    // Then only A/B and A/C pass (B/C has one customer), in both directions
    expect(result).toMatchObject({ customers: 5, products: 4, pairs: 2, excludedCustomers: 0 });
    expect(result.rules.map((r) => `${r.antecedent}→${r.consequent}`)).toEqual([
      'A→C', // lift 5/3 before A→B's 10/9
      'A→B',
      'B→A',
      'C→A',
    ]);
    // A→B: support 2/5, confidence 2/3, lift (2/3) / (3/5) = 10/9
    expect(ruleOf(result.rules, 'A', 'B')).toEqual({
      antecedent: 'A',
      consequent: 'B',
      customersBoth: 2,
      customersAntecedent: 3,
      customersConsequent: 3,
      support: 0.4,
      confidence: 2 / 3,
      lift: 10 / 9,
    });
    // A→C: confidence 2/3, lift (2/3) / (2/5) = 5/3
    expect(ruleOf(result.rules, 'A', 'C')).toMatchObject({ support: 0.4, confidence: 2 / 3 });
    expect(ruleOf(result.rules, 'A', 'C').lift).toBeCloseTo(5 / 3, 12);
    // C→A: everyone who bought C bought A: confidence 1, lift 1 / (3/5) = 5/3
    expect(ruleOf(result.rules, 'C', 'A')).toMatchObject({ confidence: 1, customersBoth: 2 });
    expect(ruleOf(result.rules, 'C', 'A').lift).toBeCloseTo(5 / 3, 12);
  });

  it('keeps the one-customer pair when asked, with a lift below 1', () => {
    const result = productAffinity(FIVE, { minCustomers: 1 });
    expect(result.pairs).toBe(3);
    // B→C: support 1/5, confidence 1/3, lift (1/3) / (2/5) = 5/6
    expect(ruleOf(result.rules, 'B', 'C')).toMatchObject({ support: 0.2, confidence: 1 / 3 });
    expect(ruleOf(result.rules, 'B', 'C').lift).toBeCloseTo(5 / 6, 12);
    expect(ruleOf(result.rules, 'C', 'B').confidence).toBe(0.5);
  });

  it('applies the support fraction as a count of customers, without rounding surprises', () => {
    // 0.4 of 5 customers is 2: A/B and A/C (support exactly 0.4) stay
    expect(productAffinity(FIVE, { minCustomers: 1, minSupport: 0.4 }).pairs).toBe(2);
    expect(productAffinity(FIVE, { minCustomers: 1, minSupport: 0.41 }).pairs).toBe(0);
    // 0.1 × 3 × 10 is 3.0000000000000004 in binary floating point; the minimum is still 3
    expect(minimumPairCustomers(10, { minCustomers: 1, minSupport: 0.1 * 3 })).toBe(3);
    expect(minimumPairCustomers(10, { minCustomers: 5, minSupport: 0.3 })).toBe(5);
  });

  it('gives the same answer whatever order customers and products come in', () => {
    const reversed = new Map([...FIVE.entries()].reverse().map(([c, p]) => [c, [...p].reverse()]));
    expect(productAffinity(reversed)).toEqual(productAffinity(FIVE));
  });

  it('computes the same from counts as from baskets (the SQL path feeds counts)', () => {
    const counts = countCoPurchases(FIVE, DEFAULT_AFFINITY_OPTIONS);
    expect(counts.pairs).toEqual([
      { a: 'A', b: 'B', both: 2, customersA: 3, customersB: 3 },
      { a: 'A', b: 'C', both: 2, customersA: 3, customersB: 2 },
    ]);
    expect(affinityFromCounts(counts)).toEqual(productAffinity(FIVE));
  });
});

describe('product affinity: edge cases', () => {
  it('a single product gives no pair', () => {
    const result = productAffinity(baskets({ c1: ['A'], c2: ['A'], c3: ['A', 'A'] }));
    expect(result).toMatchObject({ customers: 3, products: 1, pairs: 0, rules: [] });
  });

  it('one customer: nothing at the default minimum; a certain rule of lift 1 at minimum 1', () => {
    const one = baskets({ only: ['A', 'B'] });
    expect(productAffinity(one).rules).toEqual([]);
    const rules = productAffinity(one, { minCustomers: 1 }).rules;
    expect(rules).toHaveLength(2);
    for (const rule of rules) expect(rule).toMatchObject({ support: 1, confidence: 1, lift: 1 });
  });

  it('a product bought by everyone has lift exactly 1 with every other product', () => {
    // Given X in every basket
    const result = productAffinity(
      baskets({
        c1: ['X', 'A', 'B'],
        c2: ['X', 'A'],
        c3: ['X', 'B', 'C'],
        c4: ['X', 'C', 'A'],
      }),
      { minCustomers: 1 },
    );
    // Then knowing a customer bought X (or anything) says nothing about X, and vice versa
    const withX = result.rules.filter((r) => r.antecedent === 'X' || r.consequent === 'X');
    expect(withX).toHaveLength(6);
    for (const rule of withX) expect(rule.lift).toBe(1);
    expect(ruleOf(result.rules, 'A', 'X').confidence).toBe(1);
    expect(ruleOf(result.rules, 'X', 'A').confidence).toBe(0.75);
  });

  it('counts a product once per customer and ignores customers without products', () => {
    const result = productAffinity(
      baskets({ c1: ['A', 'A', 'B'], c2: ['B', 'A', 'B'], empty: [] }),
      { minCustomers: 1 },
    );
    expect(result.customers).toBe(2);
    expect(ruleOf(result.rules, 'A', 'B')).toMatchObject({
      customersBoth: 2,
      support: 1,
      lift: 1,
    });
  });

  it('leaves out customers above maxProductsPerCustomer, from N too', () => {
    const result = productAffinity(
      baskets({ c1: ['A', 'B'], c2: ['A', 'B'], c3: ['C'], reseller: ['A', 'B', 'C', 'D'] }),
      { maxProductsPerCustomer: 3 },
    );
    expect(result).toMatchObject({ customers: 3, excludedCustomers: 1, products: 3, pairs: 1 });
    // n(A∧B) = 2 of N = 3, n(A) = n(B) = 2: lift 2·3 / (2·2) = 1.5
    expect(ruleOf(result.rules, 'A', 'B').lift).toBe(1.5);
  });

  it('keeps at most maxPairs pairs, those with the most customers, and says so', () => {
    const many = baskets({
      c1: ['A', 'B', 'C'],
      c2: ['A', 'B', 'C'],
      c3: ['A', 'B'],
      c4: ['D', 'E'],
      c5: ['D', 'E'],
    });
    const result = productAffinity(many, { maxPairs: 1 });
    expect(result.truncated).toBe(true);
    expect(result.pairs).toBe(1);
    expect(result.rules.map((r) => `${r.antecedent}→${r.consequent}`)).toEqual(['A→B', 'B→A']);
    expect(productAffinity(many).truncated).toBe(false);
  });

  it('refuses options out of range, naming the option', () => {
    for (const bad of [
      { minCustomers: 0 },
      { minCustomers: 1.5 },
      { minSupport: 1.1 },
      { minSupport: Number.NaN },
      { maxProductsPerCustomer: 1 },
      { maxPairs: 0 },
    ]) {
      const field = Object.keys(bad)[0] ?? '';
      expect(() => affinityOptionsOrThrow(bad)).toThrow(CrossSellError);
      expect(() => affinityOptionsOrThrow(bad)).toThrow(field);
    }
    expect(affinityOptionsOrThrow({ minSupport: 0.05 })).toEqual({
      ...DEFAULT_AFFINITY_OPTIONS,
      minSupport: 0.05,
    });
  });

  it('refuses counts that cannot come from baskets', () => {
    const pair = { a: 'A', b: 'B', both: 3, customersA: 2, customersB: 5 };
    expect(() =>
      affinityFromCounts({
        customers: 5,
        excludedCustomers: 0,
        products: 2,
        pairs: [pair],
        truncated: false,
      }),
    ).toThrow(expect.objectContaining({ code: 'invalid-counts' }) as Error);
  });
});
