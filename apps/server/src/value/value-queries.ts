import type { Pool } from 'pg';
import { candidateKeys } from '../query/get-customer-activity.query';

export interface FitReference {
  readonly fitId: string;
  readonly fittedAt: string;
  /** The as-of date of the scores. */
  readonly calibrationEnd: string;
  readonly config: unknown;
  readonly currency: string;
  readonly bgNbd: { readonly modelVersion: string; readonly parameters: unknown };
  readonly gammaGamma: { readonly modelVersion: string; readonly parameters: unknown };
}

export interface HistoricalValueDto {
  readonly currency: string;
  readonly orderCount: number;
  readonly grossRevenue: string;
  readonly refunded: string;
  readonly netRevenue: string;
  readonly averageOrderValue: string | null;
  readonly firstOrderAt: string | null;
  readonly lastOrderAt: string | null;
  readonly openFlags: number;
}

export interface PredictionDto {
  /** The fit every figure below comes from: model versions, parameters, fit time, as-of date. */
  readonly model: FitReference;
  readonly pAlive: number;
  readonly expectedPurchases: number;
  readonly expectedAverageOrderValue: number;
  readonly clv: number;
  readonly summary: {
    readonly x: number;
    readonly tx: number;
    readonly T: number;
    readonly zbar: number;
  };
}

export interface CustomerValueDto {
  readonly customerKey: string;
  readonly historical: HistoricalValueDto;
  readonly flags: readonly {
    eventId: string;
    eventType: string;
    orderId: string | null;
    occurredAt: string;
    reasonCode: string;
    reason: string;
    currency: string | null;
    originalAmount: string | null;
    resolvedAt: string | null;
  }[];
  /** null before the first successful fit, or when the customer was not in it. */
  readonly prediction: PredictionDto | null;
}

interface FitRow {
  id: string;
  fitted_at: Date;
  calibration_end: string;
  config: unknown;
  currency: string;
  bg_nbd: { modelVersion: string; parameters: unknown };
  gamma_gamma: { modelVersion: string; parameters: unknown };
}

interface ValueRow {
  customer_key: string;
  currency: string;
  order_count: number;
  gross_revenue: string;
  refunded: string;
  net_revenue: string;
  average_order_value: string | null;
  first_order_at: Date | null;
  last_order_at: Date | null;
  open_flags: number;
}

const historicalOf = (row: ValueRow): HistoricalValueDto => ({
  currency: row.currency,
  orderCount: row.order_count,
  grossRevenue: row.gross_revenue,
  refunded: row.refunded,
  netRevenue: row.net_revenue,
  averageOrderValue: row.average_order_value,
  firstOrderAt: row.first_order_at?.toISOString() ?? null,
  lastOrderAt: row.last_order_at?.toISOString() ?? null,
  openFlags: row.open_flags,
});

const fitReferenceOf = (row: FitRow): FitReference => ({
  fitId: row.id,
  fittedAt: row.fitted_at.toISOString(),
  calibrationEnd: row.calibration_end,
  config: row.config,
  currency: row.currency,
  bgNbd: { modelVersion: row.bg_nbd.modelVersion, parameters: row.bg_nbd.parameters },
  gammaGamma: {
    modelVersion: row.gamma_gamma.modelVersion,
    parameters: row.gamma_gamma.parameters,
  },
});

const VALUE_COLUMNS = `customer_key, currency, order_count, gross_revenue::text, refunded::text,
  net_revenue::text, average_order_value::text, first_order_at, last_order_at, open_flags`;

/** Reads of the value read models and the latest CLV fit (plain SQL over read_models/models). */
export class ValueQueries {
  constructor(private readonly pool: Pool) {}

  async latestFit(): Promise<FitRow | null> {
    const result = await this.pool.query<FitRow>(
      `SELECT id, fitted_at, calibration_end::text, config, currency, bg_nbd, gamma_gamma
         FROM models.clv_fits WHERE status = 'fitted' ORDER BY fitted_at DESC, id DESC LIMIT 1`,
    );
    return result.rows[0] ?? null;
  }

  async customerValue(customerId: string): Promise<CustomerValueDto | null> {
    const keys = candidateKeys(customerId);
    const values = await this.pool.query<ValueRow>(
      `SELECT ${VALUE_COLUMNS} FROM read_models.customer_value WHERE customer_key = ANY($1::text[])`,
      [keys],
    );
    const row = keys
      .map((key) => values.rows.find((r) => r.customer_key === key))
      .find((r) => r !== undefined);
    if (row === undefined) return null;
    const flags = await this.pool.query<{
      event_id: string;
      event_type: string;
      order_id: string | null;
      occurred_at: Date;
      reason_code: string;
      reason: string;
      currency: string | null;
      original_amount: string | null;
      resolved_at: Date | null;
    }>(
      `SELECT event_id, event_type, order_id, occurred_at, reason_code, reason, currency,
              original_amount::text, resolved_at
         FROM read_models.value_flags WHERE customer_key = $1 ORDER BY occurred_at, event_id LIMIT 100`,
      [row.customer_key],
    );
    const fit = await this.latestFit();
    let prediction: PredictionDto | null = null;
    if (fit !== null) {
      const score = await this.pool.query<{
        x: number;
        t_x: number;
        t_cal: number;
        zbar: number;
        p_alive: number;
        expected_purchases: number;
        expected_average_order_value: number;
        clv: number;
      }>('SELECT * FROM models.clv_scores WHERE fit_id = $1 AND customer_key = $2', [
        fit.id,
        row.customer_key,
      ]);
      const s = score.rows[0];
      if (s !== undefined) {
        prediction = {
          model: fitReferenceOf(fit),
          pAlive: s.p_alive,
          expectedPurchases: s.expected_purchases,
          expectedAverageOrderValue: s.expected_average_order_value,
          clv: s.clv,
          summary: { x: s.x, tx: s.t_x, T: s.t_cal, zbar: s.zbar },
        };
      }
    }
    return {
      customerKey: row.customer_key,
      historical: historicalOf(row),
      flags: flags.rows.map((f) => ({
        eventId: f.event_id,
        eventType: f.event_type,
        orderId: f.order_id,
        occurredAt: f.occurred_at.toISOString(),
        reasonCode: f.reason_code,
        reason: f.reason,
        currency: f.currency,
        originalAmount: f.original_amount,
        resolvedAt: f.resolved_at?.toISOString() ?? null,
      })),
      prediction,
    };
  }

  /** The most valuable customers, by net revenue or by the latest fit's CLV; ties by key. */
  async top(
    by: 'clv' | 'netRevenue',
    limit: number,
  ): Promise<{ by: string; model: FitReference | null; items: Record<string, unknown>[] }> {
    if (by === 'netRevenue') {
      const result = await this.pool.query<ValueRow>(
        // Qualified: the unqualified name would sort by the ::text output column.
        `SELECT ${VALUE_COLUMNS} FROM read_models.customer_value v
          ORDER BY v.net_revenue DESC, v.customer_key ASC LIMIT $1`,
        [limit],
      );
      return {
        by,
        model: null,
        items: result.rows.map((row, i) => ({
          rank: i + 1,
          customerKey: row.customer_key,
          ...historicalOf(row),
        })),
      };
    }
    const fit = await this.latestFit();
    if (fit === null) return { by, model: null, items: [] };
    const result = await this.pool.query<{
      customer_key: string;
      clv: number;
      p_alive: number;
      expected_purchases: number;
      expected_average_order_value: number;
      net_revenue: string | null;
      order_count: number | null;
    }>(
      `SELECT s.customer_key, s.clv, s.p_alive, s.expected_purchases, s.expected_average_order_value,
              v.net_revenue::text, v.order_count
         FROM models.clv_scores s
         LEFT JOIN read_models.customer_value v USING (customer_key)
        WHERE s.fit_id = $1
        ORDER BY s.clv DESC, s.customer_key ASC LIMIT $2`,
      [fit.id, limit],
    );
    return {
      by,
      model: fitReferenceOf(fit),
      items: result.rows.map((row, i) => ({
        rank: i + 1,
        customerKey: row.customer_key,
        clv: row.clv,
        pAlive: row.p_alive,
        expectedPurchases: row.expected_purchases,
        expectedAverageOrderValue: row.expected_average_order_value,
        netRevenue: row.net_revenue,
        orderCount: row.order_count,
      })),
    };
  }
}
