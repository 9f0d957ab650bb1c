import { randomUUID } from 'node:crypto';
import {
  affinityFromCounts,
  type AffinityOptions,
  type AffinityRule,
  type PairCount,
} from '@touchline/customer-value';
import type { Pool, PoolClient } from 'pg';

export interface AffinityRunDto {
  readonly runId: string;
  readonly computedAt: string;
  readonly config: AffinityOptions;
  /** Customers (unified where identity resolution knows them) with at least one product. */
  readonly customers: number;
  readonly excludedCustomers: number;
  readonly products: number;
  readonly pairs: number;
  readonly rules: number;
  readonly truncated: boolean;
  readonly durationMs: number;
}

interface CountRow {
  customers: number;
  excluded: number;
  products: number;
  a: string | null;
  b: string | null;
  n_ab: number | null;
  n_a: number | null;
  n_b: number | null;
}

/*
 * One statement, so every count comes from the same snapshot. The basket is a unified customer
 * (customer_identifiers), or the customer key itself while identity resolution does not know it.
 * Pairs are counted by a self-join per basket, a < b, in byte order.
 */
const COUNT_SQL = `
  WITH baskets AS (
    SELECT DISTINCT coalesce(i.customer_id, 'key:' || p.customer_key) AS basket, p.product_id
      FROM read_models.customer_products p
      LEFT JOIN read_models.customer_identifiers i
        ON i.identifier = read_models.identifier_of_customer_key(p.customer_key)
  ),
  sizes AS (SELECT basket, count(*) AS n FROM baskets GROUP BY basket),
  eligible AS (
    SELECT b.basket, b.product_id FROM baskets b JOIN sizes s USING (basket) WHERE s.n <= $3
  ),
  totals AS (
    SELECT (SELECT count(*) FROM sizes WHERE n <= $3)::integer AS customers,
           (SELECT count(*) FROM sizes WHERE n > $3)::integer AS excluded,
           (SELECT count(DISTINCT product_id) FROM eligible)::integer AS products
  ),
  items AS (SELECT product_id, count(*)::integer AS n FROM eligible GROUP BY product_id),
  pairs AS (
    SELECT x.product_id AS a, y.product_id AS b, count(*)::integer AS n_ab
      FROM eligible x
      JOIN eligible y ON y.basket = x.basket AND x.product_id COLLATE "C" < y.product_id COLLATE "C"
     GROUP BY x.product_id, y.product_id
    HAVING count(*) >= greatest($1::float8,
                                ceil($2::float8 * (SELECT customers FROM totals) - 1e-9::float8))
  )
  SELECT t.customers, t.excluded, t.products, p.a, p.b, p.n_ab, ia.n AS n_a, ib.n AS n_b
    FROM totals t
    LEFT JOIN LATERAL (
      SELECT * FROM pairs ORDER BY n_ab DESC, a COLLATE "C", b COLLATE "C" LIMIT $4::bigint + 1
    ) p ON true
    LEFT JOIN items ia ON ia.product_id = p.a
    LEFT JOIN items ib ON ib.product_id = p.b
   ORDER BY p.n_ab DESC, p.a COLLATE "C", p.b COLLATE "C"`;

const INSERT_CHUNK = 5_000;

/**
 * Computes product affinity over read_models.customer_products and replaces
 * read_models.product_affinity with it: pair counts in SQL, support, confidence and lift by the
 * domain's pure function over those counts.
 */
export class AffinityComputation {
  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async compute(options: AffinityOptions, requestedBy: string | null): Promise<AffinityRunDto> {
    const started = this.clock();
    const counted = await this.pool.query<CountRow>(COUNT_SQL, [
      options.minCustomers,
      options.minSupport,
      options.maxProductsPerCustomer,
      options.maxPairs,
    ]);
    const first = counted.rows[0];
    const pairs: PairCount[] = counted.rows
      .filter((r) => r.a !== null && r.b !== null)
      .map((r) => ({
        a: r.a!,
        b: r.b!,
        both: r.n_ab!,
        customersA: r.n_a!,
        customersB: r.n_b!,
      }));
    const result = affinityFromCounts(
      {
        customers: first?.customers ?? 0,
        excludedCustomers: first?.excluded ?? 0,
        products: first?.products ?? 0,
        pairs: pairs.slice(0, options.maxPairs),
        truncated: pairs.length > options.maxPairs,
      },
      options,
    );
    const computedAt = this.clock();
    const run: AffinityRunDto = {
      runId: randomUUID(),
      computedAt: computedAt.toISOString(),
      config: options,
      customers: result.customers,
      excludedCustomers: result.excludedCustomers,
      products: result.products,
      pairs: result.pairs,
      rules: result.rules.length,
      truncated: result.truncated,
      durationMs: Math.max(0, computedAt.getTime() - started.getTime()),
    };
    await this.store(run, result.rules, requestedBy);
    return run;
  }

  private async store(
    run: AffinityRunDto,
    rules: readonly AffinityRule[],
    requestedBy: string | null,
  ): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Two computations at once: the later one replaces the earlier, never a mix of both.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('touchline.cross-sell.compute'))`);
      await client.query('DELETE FROM read_models.product_affinity');
      for (let i = 0; i < rules.length; i += INSERT_CHUNK)
        await insertRules(client, rules.slice(i, i + INSERT_CHUNK), run);
      await client.query(
        `INSERT INTO read_models.product_affinity_runs
           (id, computed_at, config, customers, excluded_customers, products, pairs, rules,
            truncated, duration_ms, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          run.runId,
          run.computedAt,
          JSON.stringify(run.config),
          run.customers,
          run.excludedCustomers,
          run.products,
          run.pairs,
          run.rules,
          run.truncated,
          run.durationMs,
          requestedBy,
        ],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

async function insertRules(
  client: PoolClient,
  rules: readonly AffinityRule[],
  run: AffinityRunDto,
): Promise<void> {
  await client.query(
    `INSERT INTO read_models.product_affinity
       (antecedent, consequent, customers_both, customers_antecedent, customers_consequent,
        support, confidence, lift, computed_at, run_id)
     SELECT a, c, n, na, nc, s, conf, l, $9, $10
       FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::integer[],
                   $6::float8[], $7::float8[], $8::float8[]) AS u(a, c, n, na, nc, s, conf, l)`,
    [
      rules.map((r) => r.antecedent),
      rules.map((r) => r.consequent),
      rules.map((r) => r.customersBoth),
      rules.map((r) => r.customersAntecedent),
      rules.map((r) => r.customersConsequent),
      rules.map((r) => r.support),
      rules.map((r) => r.confidence),
      rules.map((r) => r.lift),
      run.computedAt,
      run.runId,
    ],
  );
}
