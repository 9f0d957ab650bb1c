import type { Pool } from 'pg';
import { TouchlineException } from '../common/touchline.exception';
import { candidateKeys } from '../query/get-customer-activity.query';
import type { AffinityRunDto } from './affinity-computation';

export interface AffinityItemDto {
  readonly consequent: string;
  readonly lift: number;
  readonly confidence: number;
  readonly support: number;
  readonly customersBoth: number;
  readonly customersConsequent: number;
}

export interface CandidateDto {
  readonly customerId: string;
  readonly productId: string;
  readonly rank: number;
  readonly lift: number;
  readonly confidence: number;
  readonly support: number;
  readonly customersBoth: number;
  /** The rule that justifies it: the customer bought this product. */
  readonly because: { readonly bought: string; readonly lift: number; readonly confidence: number };
  readonly explanation: string;
}

export interface CandidatesAfter {
  readonly lift: number;
  readonly confidence: number;
  readonly customerId: string;
}

interface CandidateRow {
  customer_id: string;
  product_id: string;
  because_bought: string;
  lift: number;
  confidence: number;
  support: number;
  customers_both: number;
  rank: string;
}

interface RunRow {
  id: string;
  computed_at: Date;
  config: AffinityRunDto['config'];
  customers: number;
  excluded_customers: number;
  products: number;
  pairs: number;
  rules: number;
  truncated: boolean;
  duration_ms: number;
}

const percent = (x: number) => `${(x * 100).toFixed(0)} %`;

function candidateOf(row: CandidateRow): CandidateDto {
  return {
    customerId: row.customer_id,
    productId: row.product_id,
    rank: Number(row.rank),
    lift: row.lift,
    confidence: row.confidence,
    support: row.support,
    customersBoth: row.customers_both,
    because: { bought: row.because_bought, lift: row.lift, confidence: row.confidence },
    explanation: `bought ${row.because_bought}: ${percent(row.confidence)} of its buyers also bought ${row.product_id}, ${row.lift.toFixed(2)} times as often as customers overall (lift)`,
  };
}

const CANDIDATE_COLUMNS = `customer_id, product_id, because_bought, lift, confidence, support,
  customers_both, rank`;

/** Reads of the cross-sell read models (plain SQL over read_models). */
export class CrossSellQueries {
  constructor(private readonly pool: Pool) {}

  async latestRun(): Promise<AffinityRunDto | null> {
    const result = await this.pool.query<RunRow>(
      `SELECT * FROM read_models.product_affinity_runs ORDER BY computed_at DESC, id DESC LIMIT 1`,
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    return {
      runId: row.id,
      computedAt: row.computed_at.toISOString(),
      config: row.config,
      customers: row.customers,
      excludedCustomers: row.excluded_customers,
      products: row.products,
      pairs: row.pairs,
      rules: row.rules,
      truncated: row.truncated,
      durationMs: row.duration_ms,
    };
  }

  /** The consequents of one product, highest lift first; 404 when nobody bought the product. */
  async affinityOrThrow(product: string, limit: number) {
    const known = await this.pool.query<{ customers: number }>(
      `SELECT count(*)::integer AS customers FROM read_models.customer_products WHERE product_id = $1`,
      [product],
    );
    const items = await this.pool.query<{
      consequent: string;
      lift: number;
      confidence: number;
      support: number;
      customers_both: number;
      customers_antecedent: number;
      customers_consequent: number;
    }>(
      `SELECT consequent, lift, confidence, support, customers_both, customers_antecedent,
              customers_consequent
         FROM read_models.product_affinity WHERE antecedent = $1
        ORDER BY lift DESC, confidence DESC, consequent COLLATE "C" LIMIT $2`,
      [product, limit],
    );
    const customerKeys = known.rows[0]?.customers ?? 0;
    if (customerKeys === 0 && items.rows.length === 0)
      throw new TouchlineException('NOT_FOUND', `No customer bought a product "${product}".`);
    return {
      product,
      computation: await this.latestRun(),
      items: items.rows.map((r): AffinityItemDto & { customersAntecedent: number } => ({
        consequent: r.consequent,
        lift: r.lift,
        confidence: r.confidence,
        support: r.support,
        customersBoth: r.customers_both,
        customersAntecedent: r.customers_antecedent,
        customersConsequent: r.customers_consequent,
      })),
    };
  }

  /**
   * The best cross-sell candidates: each customer's best product (or, for one product, the
   * customers it is a candidate for), highest lift first; ties by confidence, then customer id.
   */
  async candidates(
    product: string | null,
    limit: number,
    after: CandidatesAfter | null,
  ): Promise<{ items: CandidateDto[]; nextCursor: CandidatesAfter | null }> {
    const params: unknown[] = [limit + 1];
    const where: string[] = [];
    if (product === null) where.push('rank = 1');
    else {
      params.push(product);
      where.push(`product_id = $${params.length}`);
    }
    if (after !== null) {
      params.push(after.lift, after.confidence, after.customerId);
      const [l, c, id] = [params.length - 2, params.length - 1, params.length];
      where.push(
        `(lift < $${l} OR (lift = $${l} AND confidence < $${c})
          OR (lift = $${l} AND confidence = $${c} AND customer_id COLLATE "C" > $${id}))`,
      );
    }
    const result = await this.pool.query<CandidateRow>(
      `SELECT ${CANDIDATE_COLUMNS} FROM read_models.cross_sell_candidates
        WHERE ${where.join(' AND ')}
        ORDER BY lift DESC, confidence DESC, customer_id COLLATE "C" LIMIT $1`,
      params,
    );
    const rows = result.rows.slice(0, limit);
    const last = rows[rows.length - 1];
    return {
      items: rows.map(candidateOf),
      nextCursor:
        result.rows.length > limit && last !== undefined
          ? { lift: last.lift, confidence: last.confidence, customerId: last.customer_id }
          : null,
    };
  }

  /**
   * The unified customer an id names: a customer id, an identifier (userId:ada), or a customer
   * key (user:ada, or a bare user or anonymous id as GET /v1/customers/{id} reads it).
   */
  async customerIdOrThrow(id: string): Promise<string> {
    const result = await this.pool.query<{ customer_id: string }>(
      `SELECT customer_id FROM (
         SELECT customer_id, 0 AS ord FROM read_models.customer_identifiers WHERE customer_id = $1
         UNION ALL
         SELECT customer_id, 1 FROM read_models.customer_identifiers WHERE identifier = $1
         UNION ALL
         SELECT i.customer_id, 1 + k.ord
           FROM unnest($2::text[]) WITH ORDINALITY AS k(key, ord)
           JOIN read_models.customer_identifiers i
             ON i.identifier = read_models.identifier_of_customer_key(k.key)
       ) found ORDER BY ord LIMIT 1`,
      [id, candidateKeys(id)],
    );
    const row = result.rows[0];
    if (row === undefined) throw new TouchlineException('NOT_FOUND', `No customer "${id}".`);
    return row.customer_id;
  }

  /** One customer's top products with the rule behind each, and what they already bought. */
  async forCustomerOrThrow(id: string, limit: number) {
    const customerId = await this.customerIdOrThrow(id);
    const consent = await this.pool.query<{ allowed: boolean }>(
      `SELECT read_models.cross_sell_marketing_allowed(consent) AS allowed
         FROM read_models.customer_profiles WHERE customer_id = $1`,
      [customerId],
    );
    const bought = await this.pool.query<{ product_id: string }>(
      `SELECT product_id FROM read_models.unified_customer_products WHERE customer_id = $1
        ORDER BY product_id COLLATE "C" LIMIT 1000`,
      [customerId],
    );
    const items = await this.pool.query<CandidateRow>(
      `SELECT ${CANDIDATE_COLUMNS} FROM read_models.cross_sell_candidates
        WHERE customer_id = $1 ORDER BY rank LIMIT $2`,
      [customerId, limit],
    );
    return {
      customerId,
      /** Why the list is empty on purpose: the opt-out hook (cross_sell_marketing_allowed). */
      excluded: consent.rows[0]?.allowed === false ? 'marketing-opt-out' : null,
      computation: await this.latestRun(),
      bought: bought.rows.map((r) => r.product_id),
      items: items.rows.map(candidateOf),
    };
  }
}
