import { randomUUID } from 'node:crypto';
import {
  type BgNbdFit,
  fitBgNbd,
  fitGammaGamma,
  type GammaGammaFit,
  scoreMany,
  summarizeTransactions,
  type Transaction,
} from '@touchline/customer-value';
import type { Pool } from 'pg';

export interface ClvFitRequest {
  /** Last day of the calibration period (included); also the as-of date of the scores. */
  readonly calibrationEnd: Date;
  /** Days per model time unit (7: weeks). */
  readonly timeUnitDays: number;
  /** Horizon of expected purchases and CLV, in periods. */
  readonly horizonPeriods: number;
  /** Length of a period in model time units (1 by default: a period is a time unit). */
  readonly periodLength: number;
  readonly discountRatePerPeriod: number;
  /** Refuse to fit below this many customers (the library's default: 10). */
  readonly minCustomers?: number;
}

interface ModelSummary<P> {
  readonly modelVersion: string;
  readonly parameters: P;
  readonly logLikelihood: number;
  readonly customers: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly excludedCustomers?: number;
}

export type ClvFitTrigger = 'api' | 'schedule';

export interface ClvFitDto {
  readonly id: string;
  readonly status: 'fitted' | 'refused';
  /** An admin's request, or the TOUCHLINE_CLV_REFIT_HOURS schedule. */
  readonly trigger: ClvFitTrigger;
  readonly fittedAt: string;
  readonly calibrationEnd: string;
  readonly config: {
    readonly timeUnitDays: number;
    readonly horizonPeriods: number;
    readonly periodLength: number;
    readonly discountRatePerPeriod: number;
  };
  readonly currency: string;
  readonly customers: number;
  readonly orders: number;
  readonly bgNbd: ModelSummary<BgNbdFit['parameters']> | null;
  readonly gammaGamma: ModelSummary<GammaGammaFit['parameters']> | null;
  readonly failure: {
    readonly model: string;
    readonly code: string;
    readonly message: string;
  } | null;
  /** Customers scored under this fit (0 when refused). */
  readonly scored: number;
}

const DAY_MS = 86_400_000;

const summaryOf = (fit: BgNbdFit | GammaGammaFit): ModelSummary<never> =>
  ({
    modelVersion: fit.modelVersion,
    parameters: fit.parameters,
    logLikelihood: fit.logLikelihood,
    customers: fit.customers,
    iterations: fit.iterations,
    converged: fit.converged,
    ...('excludedCustomers' in fit ? { excludedCustomers: fit.excludedCustomers } : {}),
  }) as ModelSummary<never>;

/**
 * Fits BG/NBD and Gamma-Gamma on the orders read model and scores every customer, storing the
 * fit (or the refusal, with the library's code) and the scores tied to it.
 */
export class ClvService {
  constructor(
    private readonly pool: Pool,
    private readonly currency: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async fit(request: ClvFitRequest, trigger: ClvFitTrigger = 'api'): Promise<ClvFitDto> {
    const fittedAt = this.clock();
    const endDay = Math.floor(request.calibrationEnd.getTime() / DAY_MS);
    // Net of refunds; float is fine here: the models take real numbers, not money sums.
    const rows = await this.pool.query<{ customer_key: string; occurred_at: Date; amount: number }>(
      `SELECT customer_key, occurred_at, (base_amount - refunded_amount)::float8 AS amount
         FROM read_models.customer_orders WHERE occurred_at < $1`,
      [new Date((endDay + 1) * DAY_MS)],
    );
    const transactions: Transaction[] = rows.rows.map((r) => ({
      customerId: r.customer_key,
      at: r.occurred_at,
      amount: r.amount,
    }));
    const summaries = summarizeTransactions(transactions, {
      calibrationEnd: request.calibrationEnd,
      timeUnitDays: request.timeUnitDays,
    });
    const options = {
      fittedAt,
      ...(request.minCustomers === undefined ? {} : { minCustomers: request.minCustomers }),
    };
    const bg = fitBgNbd(summaries, options);
    const gg = fitGammaGamma(summaries, options);
    const base = {
      id: randomUUID(),
      trigger,
      fittedAt: fittedAt.toISOString(),
      calibrationEnd: new Date(endDay * DAY_MS).toISOString().slice(0, 10),
      config: {
        timeUnitDays: request.timeUnitDays,
        horizonPeriods: request.horizonPeriods,
        periodLength: request.periodLength,
        discountRatePerPeriod: request.discountRatePerPeriod,
      },
      currency: this.currency,
      customers: summaries.length,
      orders: transactions.length,
      bgNbd: bg.ok ? summaryOf(bg.fit) : null,
      gammaGamma: gg.ok ? summaryOf(gg.fit) : null,
    };
    if (!bg.ok || !gg.ok) {
      const failed = !bg.ok ? bg : (gg as Exclude<typeof gg, { ok: true }>);
      const dto: ClvFitDto = {
        ...base,
        status: 'refused',
        failure: { model: failed.model, code: failed.code, message: failed.message },
        scored: 0,
      };
      await this.store(dto, null);
      return dto;
    }
    const n = summaries.length;
    const scores = scoreMany(
      { bgNbd: bg.fit.parameters, gammaGamma: gg.fit.parameters },
      {
        x: summaries.map((s) => s.x),
        tx: summaries.map((s) => s.tx),
        T: summaries.map((s) => s.T),
        zbar: summaries.map((s) => s.zbar),
      },
      {
        purchaseHorizon: request.horizonPeriods * request.periodLength,
        clv: {
          periodLength: request.periodLength,
          periods: request.horizonPeriods,
          discountRatePerPeriod: request.discountRatePerPeriod,
        },
      },
    );
    const columns = {
      keys: summaries.map((s) => s.customerId),
      x: summaries.map((s) => s.x),
      tx: summaries.map((s) => s.tx),
      T: summaries.map((s) => s.T),
      zbar: summaries.map((s) => s.zbar),
      pAlive: Array.from(scores.pAlive),
      expectedPurchases: Array.from(scores.expectedPurchases),
      aov: Array.from(scores.expectedAverageOrderValue!),
      clv: Array.from(scores.clv!),
    };
    const bad = [columns.pAlive, columns.expectedPurchases, columns.aov, columns.clv].findIndex(
      (c) => c.some((v) => !Number.isFinite(v)),
    );
    if (bad >= 0) {
      // The library guarantees finite scores; if that ever breaks, refuse rather than store NaN.
      const dto: ClvFitDto = {
        ...base,
        status: 'refused',
        failure: { model: 'scoring', code: 'non-finite-score', message: 'a score was not finite' },
        scored: 0,
      };
      await this.store(dto, null);
      return dto;
    }
    const dto: ClvFitDto = { ...base, status: 'fitted', failure: null, scored: n };
    await this.store(dto, columns);
    return dto;
  }

  private async store(
    dto: ClvFitDto,
    columns: (Record<'keys', string[]> & Record<string, unknown[]>) | null,
  ): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO models.clv_fits (id, status, fitted_at, calibration_end, config, currency,
           customers, orders, bg_nbd, gamma_gamma, failure_model, failure_code, failure_message,
           trigger)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          dto.id,
          dto.status,
          dto.fittedAt,
          dto.calibrationEnd,
          JSON.stringify(dto.config),
          dto.currency,
          dto.customers,
          dto.orders,
          dto.bgNbd === null ? null : JSON.stringify(dto.bgNbd),
          dto.gammaGamma === null ? null : JSON.stringify(dto.gammaGamma),
          dto.failure?.model ?? null,
          dto.failure?.code ?? null,
          dto.failure?.message ?? null,
          dto.trigger,
        ],
      );
      if (columns !== null) {
        const chunk = 5_000;
        for (let i = 0; i < columns.keys.length; i += chunk) {
          const part = (name: string) => (columns[name] ?? []).slice(i, i + chunk);
          await client.query(
            `INSERT INTO models.clv_scores (fit_id, customer_key, x, t_x, t_cal, zbar, p_alive,
               expected_purchases, expected_average_order_value, clv)
             SELECT $1, * FROM unnest($2::text[], $3::int[], $4::float8[], $5::float8[], $6::float8[],
                                      $7::float8[], $8::float8[], $9::float8[], $10::float8[])`,
            [
              dto.id,
              part('keys'),
              part('x'),
              part('tx'),
              part('T'),
              part('zbar'),
              part('pAlive'),
              part('expectedPurchases'),
              part('aov'),
              part('clv'),
            ],
          );
        }
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
