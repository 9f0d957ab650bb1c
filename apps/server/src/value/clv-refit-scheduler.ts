import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { ClvFitRequest, ClvService } from './clv.service';
import { projectionRebuiltInPlace } from '../operations/rebuild-control';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const LOCK_KEY = 'touchline:clv-refit';

/** The model settings of a scheduled fit when no fit names others. */
export const DEFAULT_REFIT_SETTINGS = {
  timeUnitDays: 7,
  horizonPeriods: 52,
  periodLength: 1,
  discountRatePerPeriod: 0,
} as const;

type RefitSettings = Omit<ClvFitRequest, 'calibrationEnd' | 'minCustomers'>;

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/**
 * Refits BG/NBD + Gamma-Gamma as of now every TOUCHLINE_CLV_REFIT_HOURS, so scores follow new
 * orders and the passing of time without anyone asking. Like the churn scheduler, it checks (at
 * most once a minute) whether a scheduled fit was made within the period, from the database, so a
 * restart or several projector processes do not fit more often than asked; a PostgreSQL advisory
 * lock, held while checking and fitting, keeps two processes from fitting at once. A fit the data
 * cannot support is stored as refused and logged with its code; the next try is a period later.
 * Logs carry counts, ids and codes only: never a customer key.
 */
export class ClvRefitScheduler {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly clv: ClvService,
    private readonly everyHours: number | null,
    private readonly logger: Logger,
    private readonly clock: () => Date,
    private readonly firstCheckMs = 2_000,
  ) {}

  start(): void {
    if (this.everyHours === null) return;
    this.logger.info({ component: 'clv', everyHours: this.everyHours }, 'scheduled CLV refits on');
    this.schedule(this.firstCheckMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => (this.running = null));
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const periodMs = (this.everyHours ?? 0) * HOUR_MS;
    try {
      const rebuilding = await projectionRebuiltInPlace(this.pool);
      const lock = rebuilding === null ? await this.lockOrNull() : null;
      if (rebuilding !== null) {
        this.logger.info(
          { component: 'clv', projection: rebuilding },
          'scheduled CLV refit held back: a projection is being rebuilt in place',
        );
      } else if (lock === null) {
        this.logger.debug(
          { component: 'clv' },
          'scheduled CLV refit skipped: another process fits',
        );
      } else {
        try {
          await this.refitIfDue(lock, periodMs);
        } finally {
          await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [LOCK_KEY]).catch(() => null);
          lock.release();
        }
      }
    } catch (error) {
      this.logger.warn(
        { component: 'clv', error: error instanceof Error ? error.message : String(error) },
        'scheduled CLV refit failed',
      );
    }
    this.schedule(Math.min(periodMs, MINUTE_MS));
  }

  private async lockOrNull(): Promise<PoolClient | null> {
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [LOCK_KEY],
      );
      if (rows[0]?.locked) return client;
      client.release();
      return null;
    } catch (error) {
      client.release(true);
      throw error;
    }
  }

  private async refitIfDue(client: PoolClient, periodMs: number): Promise<void> {
    const now = this.clock();
    const latest = await client.query<{ fitted_at: Date | null }>(
      `SELECT max(fitted_at) AS fitted_at FROM models.clv_fits WHERE trigger = 'schedule'`,
    );
    const last = latest.rows[0]?.fitted_at ?? null;
    if (last !== null && now.getTime() - last.getTime() < periodMs) return;
    const settings = await this.settings(client);
    const fit = await this.clv.fit({ ...settings, calibrationEnd: now }, 'schedule');
    const counts = {
      component: 'clv',
      fitId: fit.id,
      asOf: fit.calibrationEnd,
      customers: fit.customers,
      orders: fit.orders,
    };
    if (fit.status === 'fitted') {
      this.logger.info({ ...counts, scored: fit.scored }, 'scheduled CLV refit done');
    } else {
      this.logger.warn(
        {
          ...counts,
          model: fit.failure?.model,
          code: fit.failure?.code,
          reason: fit.failure?.message,
        },
        'scheduled CLV refit refused: the data cannot support a fit; the previous fit keeps serving',
      );
    }
  }

  /** The settings of the latest fit (an analyst's choice carries over), else the defaults. */
  private async settings(client: PoolClient): Promise<RefitSettings> {
    const { rows } = await client.query<{ config: Record<string, unknown> }>(
      `SELECT config FROM models.clv_fits WHERE status = 'fitted'
        ORDER BY fitted_at DESC, id DESC LIMIT 1`,
    );
    const config = rows[0]?.config ?? {};
    const pick = (name: keyof RefitSettings): number => {
      const value = config[name];
      return isFiniteNumber(value) ? value : DEFAULT_REFIT_SETTINGS[name];
    };
    return {
      timeUnitDays: pick('timeUnitDays'),
      horizonPeriods: pick('horizonPeriods'),
      periodLength: pick('periodLength'),
      discountRatePerPeriod: pick('discountRatePerPeriod'),
    };
  }
}
