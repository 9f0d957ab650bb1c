import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { TouchlineException } from '../common/touchline.exception';
import { projectionRebuiltInPlace } from '../operations/rebuild-control';
import type { ChurnEvaluator } from './churn-evaluator';
import type { ChurnSettings } from './churn-settings';

const MINUTE_MS = 60_000;

/**
 * Evaluates churn flags as of now every TOUCHLINE_CHURN_EVALUATE_MINUTES, so flags follow the
 * passing of time without anyone asking. It checks once a minute (or sooner for the first time)
 * whether an evaluation completed within the period, from the database, so that several
 * processes with the projector role, or a restart, do not evaluate more often than asked; the
 * evaluator's lock keeps two from running at once.
 */
export class ChurnScheduler {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastRefusal = '';

  constructor(
    private readonly pool: Pool,
    private readonly evaluator: ChurnEvaluator,
    private readonly settings: ChurnSettings,
    private readonly logger: Logger,
    private readonly clock: () => Date,
    private readonly firstCheckMs = 2_000,
  ) {}

  start(): void {
    if (this.settings.evaluateEveryMinutes === null) return;
    this.logger.info(
      { component: 'churn', everyMinutes: this.settings.evaluateEveryMinutes },
      'scheduled churn evaluations on',
    );
    this.schedule(this.firstCheckMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const minutes = this.settings.evaluateEveryMinutes ?? 0;
    try {
      const now = this.clock();
      const latest = await this.pool.query<{ started_at: Date | null }>(
        `SELECT max(started_at) AS started_at FROM read_models.churn_evaluations WHERE status = 'completed'`,
      );
      const last = latest.rows[0]?.started_at ?? null;
      const rebuilding = await projectionRebuiltInPlace(this.pool);
      if (rebuilding !== null) {
        this.logger.info(
          { component: 'churn', projection: rebuilding },
          'scheduled churn evaluation held back: a projection is being rebuilt in place',
        );
      } else if (last === null || now.getTime() - last.getTime() >= minutes * MINUTE_MS) {
        const { done } = await this.evaluator.start({
          asOf: now,
          config: this.settings.config,
          trigger: 'schedule',
          requestedBy: null,
        });
        await done;
        this.lastRefusal = '';
      }
    } catch (error) {
      if (error instanceof TouchlineException && error.code === 'CONFLICT') {
        // Another evaluation runs, or one is as of a later time: try again at the next check.
        if (error.message !== this.lastRefusal)
          this.logger.info(
            { component: 'churn', reason: error.message },
            'scheduled churn evaluation skipped',
          );
        this.lastRefusal = error.message;
      } else {
        this.logger.warn({ component: 'churn', err: error }, 'scheduled churn evaluation failed');
      }
    }
    this.schedule(Math.min(minutes, 1) * MINUTE_MS);
  }
}
