import { randomUUID } from 'node:crypto';
import {
  type ChurnConfig,
  type ChurnFlagChange,
  type ChurnModel,
  type ChurnReasonCode,
  type CurrentChurnFlag,
  evaluateCustomerChurn,
  type HeldChurnReason,
  probabilityAlive,
  reconcileChurnFlag,
} from '@touchline/customer-value';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { TouchlineException } from '../common/touchline.exception';
import { ChurnFactsReader } from './churn-facts-reader';

export type EvaluationStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'interrupted';

/** Which model the evaluation used, or why it used none. */
export type ModelUse =
  | {
      readonly status: 'used';
      readonly fitId: string;
      readonly modelVersion: string;
      readonly calibrationEnd: string;
      readonly timeUnitDays: number;
      readonly parameters: Readonly<Record<string, number>>;
    }
  | { readonly status: 'not-fitted' | 'disabled' | 'unusable'; readonly message: string };

export interface ChurnEvaluationDto {
  readonly id: string;
  readonly status: EvaluationStatus;
  readonly trigger: 'api' | 'schedule';
  readonly asOf: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly model: ModelUse;
  readonly config: ChurnConfig;
  readonly customers: { readonly total: number; readonly evaluated: number };
  /** Percent of customers evaluated, customers per second, seconds left (null until known). */
  readonly progress: {
    readonly percent: number;
    readonly customersPerSecond: number | null;
    readonly etaSeconds: number | null;
  };
  /** ChurnFlagRaised / ChurnFlagCleared rows this evaluation appended. */
  readonly raised: number;
  readonly cleared: number;
  /** Customers flagged when it finished. */
  readonly flagged: number | null;
  readonly error: string | null;
}

export interface EvaluationRequest {
  readonly asOf: Date;
  readonly config: ChurnConfig;
  readonly trigger: 'api' | 'schedule';
  readonly requestedBy: string | null;
}

interface EvaluationRow {
  id: string;
  as_of: Date;
  trigger: 'api' | 'schedule';
  status: EvaluationStatus;
  started_at: Date;
  heartbeat_at: Date;
  finished_at: Date | null;
  config: ChurnConfig;
  model: ModelUse;
  customers_total: number;
  customers_done: number;
  raised: number;
  cleared: number;
  flagged: number | null;
  error_message: string | null;
}

export const EVALUATION_COLUMNS = `id, as_of, trigger, status, started_at, heartbeat_at, finished_at, config,
  model, customers_total, customers_done, raised, cleared, flagged, error_message`;

export function evaluationDto(row: EvaluationRow): ChurnEvaluationDto {
  const seconds =
    ((row.finished_at ?? row.heartbeat_at).getTime() - row.started_at.getTime()) / 1000;
  const rate = seconds > 0 && row.customers_done > 0 ? row.customers_done / seconds : null;
  const left = Math.max(0, row.customers_total - row.customers_done);
  return {
    id: row.id,
    status: row.status,
    trigger: row.trigger,
    asOf: row.as_of.toISOString(),
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    model: row.model,
    config: row.config,
    customers: { total: row.customers_total, evaluated: row.customers_done },
    progress: {
      percent:
        row.status === 'completed'
          ? 100
          : row.customers_total === 0
            ? 0
            : Math.min(100, Math.round((1000 * row.customers_done) / row.customers_total) / 10),
      customersPerSecond: rate === null ? null : Math.round(rate),
      etaSeconds:
        row.status !== 'running' ? 0 : rate === null ? null : Math.ceil(left / Math.max(rate, 1)),
    },
    raised: row.raised,
    cleared: row.cleared,
    flagged: row.flagged,
    error: row.error_message,
  };
}

const LOCK_KEY = 'touchline:churn-evaluation';

interface Control {
  cancel: boolean;
}

interface HistoryRow {
  type: 'ChurnFlagRaised' | 'ChurnFlagCleared';
  customerId: string;
  codes: readonly ChurnReasonCode[];
  details: unknown;
  risk: number | null;
}

/**
 * Evaluates every unified customer as of a time, in batches of customers: six set-based
 * statements gather the batch's facts, the pure evaluation and reconciliation decide, and one
 * transaction per batch appends the history rows, updates the current flags and the progress.
 * One evaluation at a time: in this process (a flag) and across processes (an advisory lock held
 * for the whole run). A crash leaves the batches done so far; evaluating again as of the same time
 * completes the rest, because re-evaluating a batch that is already up to date changes nothing.
 */
export class ChurnEvaluator {
  private running: { id: string | null; control: Control; done: Promise<unknown> } | null = null;
  private readonly facts: ChurnFactsReader;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly clock: () => Date = () => new Date(),
    private readonly batchSize = 1_000,
  ) {
    this.facts = new ChurnFactsReader(pool);
  }

  /** The id of the evaluation running in this process, if any. */
  get runningId(): string | null {
    return this.running?.id ?? null;
  }

  /**
   * Starts an evaluation; answers once it is recorded as running, with a promise of its end.
   * Refused (CONFLICT) while another runs, or for an as-of time before the latest evaluation's:
   * the history is a timeline, and current flags never go back in time.
   */
  async start(
    request: EvaluationRequest,
  ): Promise<{ evaluation: ChurnEvaluationDto; done: Promise<ChurnEvaluationDto> }> {
    if (this.running !== null) {
      const which =
        this.running.id === null ? 'A churn evaluation' : `Churn evaluation ${this.running.id}`;
      throw new TouchlineException(
        'CONFLICT',
        `${which} is running; wait for it (GET /v1/churn/evaluations) and try again`,
        this.running.id === null ? undefined : { evaluationId: this.running.id },
      );
    }
    const control: Control = { cancel: false };
    const slot: { id: string | null; control: Control; done: Promise<unknown> } = {
      id: null,
      control,
      done: Promise.resolve(),
    };
    this.running = slot;
    let lock: PoolClient | null = null;
    try {
      lock = await this.lockOrThrow();
      // Holding the lock, nothing else runs: a 'running' row left is from a process that died.
      await this.pool.query(
        `UPDATE read_models.churn_evaluations SET status = 'interrupted', finished_at = heartbeat_at
          WHERE status = 'running'`,
      );
      const latest = await this.pool.query<{ as_of: Date | null }>(
        'SELECT max(as_of) AS as_of FROM read_models.churn_evaluations',
      );
      const latestAsOf = latest.rows[0]?.as_of ?? null;
      if (latestAsOf !== null && request.asOf < latestAsOf) {
        throw new TouchlineException(
          'CONFLICT',
          `asOf ${request.asOf.toISOString()} is before the latest evaluation's (${latestAsOf.toISOString()}): flags only move forward in time`,
          { latestAsOf: latestAsOf.toISOString() },
        );
      }
      const { model, use } = await this.latestModel(request.config);
      const total = await this.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM read_models.customer_profiles',
      );
      const id = randomUUID();
      const startedAt = this.clock();
      const inserted = await this.pool.query<EvaluationRow>(
        `INSERT INTO read_models.churn_evaluations (id, as_of, trigger, requested_by, status, started_at,
           heartbeat_at, config, model, customers_total)
         VALUES ($1, $2, $3, $4, 'running', $5, $5, $6, $7, $8)
         RETURNING ${EVALUATION_COLUMNS}`,
        [
          id,
          request.asOf,
          request.trigger,
          request.requestedBy,
          startedAt,
          JSON.stringify(request.config),
          JSON.stringify(use),
          total.rows[0]?.n ?? 0,
        ],
      );
      slot.id = id;
      const heldLock = lock;
      // The lock is given back before `done` settles: whoever waited may start the next one.
      const done = this.run(id, request, model, startedAt, control).finally(async () => {
        await this.unlock(heldLock);
        this.running = null;
      });
      // Callers that do not wait must not leave a rejection unhandled; the outcome is stored.
      slot.done = done.catch(() => undefined);
      lock = null;
      return { evaluation: evaluationDto(inserted.rows[0]!), done };
    } catch (error) {
      this.running = null;
      if (lock !== null) await this.unlock(lock);
      throw error;
    }
  }

  /** Asks the running evaluation to stop after its batch, and waits for it. */
  async stop(): Promise<void> {
    const running = this.running;
    if (running === null) return;
    running.control.cancel = true;
    await running.done;
  }

  private async lockOrThrow(): Promise<PoolClient> {
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [LOCK_KEY],
      );
      if (rows[0]?.locked) {
        client.on('error', () => undefined);
        return client;
      }
    } catch (error) {
      client.release(true);
      throw error;
    }
    client.release();
    throw new TouchlineException(
      'CONFLICT',
      'Another process is evaluating churn flags; wait for it (GET /v1/churn/evaluations) and try again',
    );
  }

  private async unlock(lock: PoolClient): Promise<void> {
    await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [LOCK_KEY]).catch(() => undefined);
    lock.release(true);
  }

  /** The latest fitted model, checked usable, or why there is none. */
  private async latestModel(
    config: ChurnConfig,
  ): Promise<{ model: ChurnModel | null; use: ModelUse }> {
    if (!config['model-p-alive-low'].enabled) {
      return {
        model: null,
        use: { status: 'disabled', message: 'the model-p-alive-low rule is disabled' },
      };
    }
    const fits = await this.pool.query<{
      id: string;
      calibration_end: string;
      config: { timeUnitDays?: unknown };
      bg_nbd: { modelVersion?: unknown; parameters?: Record<string, unknown> } | null;
    }>(
      `SELECT id, calibration_end::text, config, bg_nbd FROM models.clv_fits
        WHERE status = 'fitted' ORDER BY fitted_at DESC, id DESC LIMIT 1`,
    );
    const fit = fits.rows[0];
    if (fit === undefined) {
      return {
        model: null,
        use: {
          status: 'not-fitted',
          message:
            'No CLV model is fitted (POST /v1/admin/models/clv/fit): flags come from the rules only',
        },
      };
    }
    const p = fit.bg_nbd?.parameters ?? {};
    const model: ChurnModel = {
      fitId: fit.id,
      modelVersion:
        typeof fit.bg_nbd?.modelVersion === 'string' ? fit.bg_nbd.modelVersion : 'unknown',
      calibrationEnd: fit.calibration_end,
      timeUnitDays: Number(fit.config.timeUnitDays),
      parameters: {
        r: Number(p['r']),
        alpha: Number(p['alpha']),
        a: Number(p['a']),
        b: Number(p['b']),
      },
    };
    try {
      if (!(model.timeUnitDays > 0)) throw new Error('its time unit is not a positive number');
      probabilityAlive(model.parameters, { x: 1, tx: 1, T: 2 });
    } catch (error) {
      return {
        model: null,
        use: {
          status: 'unusable',
          message: `Fit ${fit.id} cannot be used: ${error instanceof Error ? error.message : String(error)}`,
        },
      };
    }
    return {
      model,
      use: {
        status: 'used',
        fitId: model.fitId,
        modelVersion: model.modelVersion,
        calibrationEnd: model.calibrationEnd,
        timeUnitDays: model.timeUnitDays,
        parameters: { ...model.parameters },
      },
    };
  }

  private async run(
    id: string,
    request: EvaluationRequest,
    model: ChurnModel | null,
    startedAt: Date,
    control: Control,
  ): Promise<ChurnEvaluationDto> {
    const log = this.logger.child({ component: 'churn', evaluationId: id });
    log.info(
      { asOf: request.asOf.toISOString(), trigger: request.trigger },
      'churn evaluation started',
    );
    let status: EvaluationStatus = 'completed';
    let failure: string | null = null;
    try {
      let after = '';
      for (;;) {
        if (control.cancel) {
          status = 'cancelled';
          break;
        }
        const batch = await this.pool.query<{ customer_id: string }>(
          `SELECT customer_id FROM read_models.customer_profiles
            WHERE customer_id > $1 ORDER BY customer_id LIMIT $2`,
          [after, this.batchSize],
        );
        const ids = batch.rows.map((r) => r.customer_id);
        const last = ids[ids.length - 1];
        const upTo = ids.length < this.batchSize || last === undefined ? null : last;
        // Flags of customers that no longer exist (merged away): cleared in their key range.
        const gone = await this.pool.query<{ customer_id: string }>(
          `SELECT f.customer_id FROM read_models.churn_flags f
            WHERE f.customer_id > $1 AND ($2::text IS NULL OR f.customer_id <= $2)
              AND NOT EXISTS (SELECT 1 FROM read_models.customer_profiles p WHERE p.customer_id = f.customer_id)`,
          [after, upTo],
        );
        await this.evaluateBatch(
          id,
          ids,
          gone.rows.map((r) => r.customer_id),
          request,
          model,
          startedAt,
        );
        if (upTo === null) break;
        after = upTo;
      }
    } catch (error) {
      status = 'failed';
      failure = error instanceof Error ? error.message : String(error);
      log.error({ err: error }, 'churn evaluation failed');
    }
    const finished = await this.pool.query<EvaluationRow>(
      `UPDATE read_models.churn_evaluations
          SET status = $2, finished_at = $3, heartbeat_at = $3, error_message = $4,
              flagged = (SELECT count(*)::int FROM read_models.churn_flags)
        WHERE id = $1
        RETURNING ${EVALUATION_COLUMNS}`,
      [id, status, this.clock(), failure],
    );
    const dto = evaluationDto(finished.rows[0]!);
    log.info(
      {
        status,
        customers: dto.customers.evaluated,
        raised: dto.raised,
        cleared: dto.cleared,
        flagged: dto.flagged,
      },
      'churn evaluation finished',
    );
    if (status === 'failed') throw new Error(`Churn evaluation ${id} failed: ${failure ?? ''}`);
    return dto;
  }

  private async evaluateBatch(
    evaluationId: string,
    customerIds: readonly string[],
    goneIds: readonly string[],
    request: EvaluationRequest,
    model: ChurnModel | null,
    startedAt: Date,
  ): Promise<void> {
    const all = [...customerIds, ...goneIds];
    const [facts, current] = await Promise.all([
      this.facts.read(customerIds, request.asOf, request.config),
      this.currentFlags(all),
    ]);
    const changes: ChurnFlagChange[] = [];
    for (const customerId of customerIds) {
      const evaluation = evaluateCustomerChurn(facts.get(customerId)!, {
        asOf: request.asOf,
        config: request.config,
        model,
      });
      changes.push(
        reconcileChurnFlag(customerId, current.get(customerId) ?? null, evaluation, request.asOf),
      );
    }
    for (const customerId of goneIds) {
      changes.push(
        reconcileChurnFlag(customerId, current.get(customerId) ?? null, null, request.asOf),
      );
    }

    const history: HistoryRow[] = [];
    for (const change of changes) {
      if (change.cleared.length > 0) {
        history.push({
          type: 'ChurnFlagCleared',
          customerId: change.customerId,
          codes: change.cleared.map((r) => r.code),
          details: Object.fromEntries(change.cleared.map(({ code, ...reason }) => [code, reason])),
          risk: change.next?.risk ?? null,
        });
      }
      if (change.raised.length > 0) {
        history.push({
          type: 'ChurnFlagRaised',
          customerId: change.customerId,
          codes: change.raised.map((r) => r.code),
          details: Object.fromEntries(
            change.raised.map(({ code, message, details }) => [code, { message, details }]),
          ),
          risk: change.next?.risk ?? null,
        });
      }
    }
    const keep = changes.flatMap((c) => (c.next === null ? [] : [c.next]));
    const remove = changes
      .filter((c) => c.next === null && current.has(c.customerId))
      .map((c) => c.customerId);

    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (history.length > 0) {
        await client.query(
          `INSERT INTO read_models.churn_flag_events
             (event_type, customer_id, reason_codes, details, risk, as_of, evaluated_at, evaluation_id)
           SELECT h.event_type, h.customer_id, ARRAY(SELECT jsonb_array_elements_text(h.codes::jsonb)),
                  h.details::jsonb, h.risk, $6, $7, $8
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[])
                  WITH ORDINALITY AS h(event_type, customer_id, codes, details, risk, n)
            ORDER BY h.n`,
          [
            history.map((h) => h.type),
            history.map((h) => h.customerId),
            history.map((h) => JSON.stringify(h.codes)),
            history.map((h) => JSON.stringify(h.details)),
            history.map((h) => h.risk),
            request.asOf,
            startedAt,
            evaluationId,
          ],
        );
      }
      if (keep.length > 0) {
        // Rows whose content is unchanged are left alone: evaluating again changes nothing.
        await client.query(
          `INSERT INTO read_models.churn_flags AS f
             (customer_id, reason_codes, reasons, risk, since, as_of, evaluation_id)
           SELECT n.customer_id, ARRAY(SELECT jsonb_array_elements_text(n.codes::jsonb)),
                  n.reasons::jsonb, n.risk, n.since, $6, $7
             FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::timestamptz[])
                  AS n(customer_id, codes, reasons, risk, since)
           ON CONFLICT (customer_id) DO UPDATE SET
             reason_codes = excluded.reason_codes, reasons = excluded.reasons, risk = excluded.risk,
             since = excluded.since, as_of = excluded.as_of, evaluation_id = excluded.evaluation_id
           WHERE (f.reason_codes, f.reasons, f.risk, f.since)
                 IS DISTINCT FROM (excluded.reason_codes, excluded.reasons, excluded.risk, excluded.since)`,
          [
            keep.map((n) => n.customerId),
            keep.map((n) => JSON.stringify(n.reasonCodes)),
            keep.map((n) => JSON.stringify(n.reasons)),
            keep.map((n) => n.risk),
            keep.map((n) => n.since),
            request.asOf,
            evaluationId,
          ],
        );
      }
      if (remove.length > 0) {
        await client.query(
          'DELETE FROM read_models.churn_flags WHERE customer_id = ANY($1::text[])',
          [remove],
        );
      }
      await client.query(
        `UPDATE read_models.churn_evaluations
            SET customers_done = customers_done + $2, raised = raised + $3, cleared = cleared + $4,
                heartbeat_at = $5
          WHERE id = $1`,
        [
          evaluationId,
          customerIds.length,
          history.filter((h) => h.type === 'ChurnFlagRaised').length,
          history.filter((h) => h.type === 'ChurnFlagCleared').length,
          this.clock(),
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

  private async currentFlags(
    customerIds: readonly string[],
  ): Promise<Map<string, CurrentChurnFlag>> {
    const result = await this.pool.query<{
      customer_id: string;
      reasons: Partial<Record<ChurnReasonCode, HeldChurnReason>>;
      since: Date;
    }>(
      'SELECT customer_id, reasons, since FROM read_models.churn_flags WHERE customer_id = ANY($1::text[])',
      [[...customerIds]],
    );
    return new Map(
      result.rows.map((row) => [
        row.customer_id,
        { customerId: row.customer_id, reasons: row.reasons, since: row.since.toISOString() },
      ]),
    );
  }
}
