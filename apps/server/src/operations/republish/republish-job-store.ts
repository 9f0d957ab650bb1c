import {
  compareCheckpoints,
  formatCheckpoint,
  type GlobalCheckpoint,
} from '@touchline/event-store';
import type { Pool } from 'pg';
import type { RangeBound } from './republish-request';
import {
  jobCompletedError,
  jobExistsError,
  jobRunningError,
  RepublishError,
  unknownJobError,
} from './republish.exception';

export type RepublishStatus = 'running' | 'completed' | 'cancelled' | 'failed' | 'interrupted';

/** A running job whose heartbeat is older than this has died; it can be resumed. */
export const REPUBLISH_HEARTBEAT_TIMEOUT_SECONDS = 30;

/** The range of a job, resolved once when it starts: events after `start` up to `target`. */
export interface RepublishRange {
  readonly start: GlobalCheckpoint;
  readonly target: GlobalCheckpoint;
  /** Position of the first event asked for; null when the range starts at the beginning. */
  readonly firstPosition: bigint | null;
  readonly eventTypes: readonly string[] | null;
  readonly targetEvents: number;
}

export interface RepublishJob {
  readonly name: string;
  readonly topic: string;
  readonly status: RepublishStatus;
  readonly range: RepublishRange;
  readonly rateLimit: number | null;
  readonly checkpoint: GlobalCheckpoint;
  readonly eventsPublished: number;
  readonly runs: number;
  readonly runStartedAt: Date;
  readonly runEventsPublished: number;
  readonly requestedBy: string | null;
  readonly requestedAt: Date;
  readonly heartbeatAt: Date;
  readonly finishedAt: Date | null;
  readonly cancelRequested: boolean;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
}

/** What the admin API answers about a job. */
export interface RepublishJobView {
  readonly name: string;
  readonly topic: string;
  readonly status: RepublishStatus;
  readonly fromPosition: number | null;
  readonly toPosition: number;
  readonly eventTypes: readonly string[] | null;
  readonly rateLimit: number | null;
  /** `<transactionId>/<position>` of the last event Kafka acknowledged (or skipped by type). */
  readonly checkpoint: string;
  readonly checkpointPosition: number;
  readonly eventsPublished: number;
  readonly targetEvents: number;
  readonly eventsPerSecond: number | null;
  readonly percent: number;
  readonly etaSeconds: number | null;
  readonly runs: number;
  readonly requestedBy: string | null;
  readonly requestedAt: Date;
  readonly runStartedAt: Date;
  readonly heartbeatAt: Date;
  readonly finishedAt: Date | null;
  readonly cancelRequested: boolean;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
}

interface JobRow {
  name: string;
  topic: string;
  status: RepublishStatus;
  start_transaction_id: string;
  start_position: string;
  target_transaction_id: string;
  target_position: string;
  first_position: string | null;
  event_types: string[] | null;
  rate_limit: number | null;
  target_events: string;
  checkpoint_transaction_id: string;
  checkpoint_position: string;
  events_published: string;
  runs: number;
  run_started_at: Date;
  run_events_published: string;
  requested_by: string | null;
  requested_at: Date;
  heartbeat_at: Date;
  finished_at: Date | null;
  cancel_requested: boolean;
  error_code: string | null;
  error_message: string | null;
  stale: boolean;
}

// Only events a reader may already see: below the oldest running transaction (event-store.md).
const VISIBLE = 'transaction_id < pg_snapshot_xmin(pg_current_snapshot())';
const SELECT_JOB = `SELECT *,
       status = 'running' AND heartbeat_at < now() - make_interval(secs => ${REPUBLISH_HEARTBEAT_TIMEOUT_SECONDS}) AS stale
  FROM projections.republish_jobs`;

/** The `projections.republish_jobs` table and the event-store lookups that resolve a range. */
export class RepublishJobStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Turns the requested bounds into checkpoints of stored events, or INVALID_RANGE naming
   * what does not exist. `from` is inclusive (the range starts just before that event).
   */
  async resolveRangeOrThrow(
    from: RangeBound | null,
    to: RangeBound | null,
    eventTypes: readonly string[] | null,
    head: GlobalCheckpoint,
  ): Promise<RepublishRange> {
    if (head.position === 0n) {
      throw new RepublishError('INVALID_RANGE', 'The event store is empty: nothing to republish');
    }
    const first = from ? await this.firstOrThrow(from, head) : null;
    const target = to ? await this.lastOrThrow(to, head) : head;
    const start = first
      ? { transactionId: first.transactionId, position: first.position - 1n }
      : { transactionId: 0n, position: 0n };
    if (first && compareCheckpoints(first, target) > 0) {
      throw new RepublishError(
        'INVALID_RANGE',
        `from (position ${first.position}) comes after to (position ${target.position}) in the global order`,
      );
    }
    const targetEvents = await this.countBetween(start, target, eventTypes);
    if (targetEvents === 0) {
      throw new RepublishError(
        'INVALID_RANGE',
        `No stored event of type ${eventTypes?.join(', ') ?? '(any)'} between position ${first?.position ?? 1} and ${target.position}`,
      );
    }
    return { start, target, firstPosition: first?.position ?? null, eventTypes, targetEvents };
  }

  /** Records a new running job; a name already taken is JOB_RUNNING or JOB_EXISTS. */
  async insert(
    name: string,
    topic: string,
    range: RepublishRange,
    rateLimit: number | null,
    requestedBy: string | null,
  ): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO projections.republish_jobs
           (name, topic, status, start_transaction_id, start_position, target_transaction_id,
            target_position, first_position, event_types, rate_limit, target_events,
            checkpoint_transaction_id, checkpoint_position, requested_by)
         VALUES ($1, $2, 'running', $3::xid8, $4, $5::xid8, $6, $7, $8, $9, $10, $3::xid8, $4, $11)`,
        [
          name,
          topic,
          range.start.transactionId.toString(),
          range.start.position.toString(),
          range.target.transactionId.toString(),
          range.target.position.toString(),
          range.firstPosition?.toString() ?? null,
          range.eventTypes,
          rateLimit,
          range.targetEvents,
          requestedBy,
        ],
      );
    } catch (error) {
      if ((error as { code?: unknown }).code !== '23505') throw error;
      const existing = await this.get(name);
      throw jobExistsError(name, existing?.status ?? 'unknown');
    }
  }

  /**
   * Marks a stopped job running again (a new run from its checkpoint). A job running in some
   * process with a fresh heartbeat is JOB_RUNNING; the conditional update decides races.
   */
  async claimForResume(name: string, rateLimit: number | null | undefined): Promise<void> {
    const { rowCount } = await this.pool.query(
      `UPDATE projections.republish_jobs
          SET status = 'running', runs = runs + 1, run_started_at = now(), run_events_published = 0,
              heartbeat_at = now(), finished_at = NULL, cancel_requested = false,
              error_code = NULL, error_message = NULL,
              rate_limit = CASE WHEN $2 THEN $3::integer ELSE rate_limit END
        WHERE name = $1 AND status IN ('cancelled', 'failed', 'interrupted', 'running')
          AND (status <> 'running'
               OR heartbeat_at < now() - make_interval(secs => ${REPUBLISH_HEARTBEAT_TIMEOUT_SECONDS}))`,
      [name, rateLimit !== undefined, rateLimit ?? null],
    );
    if (rowCount === 1) return;
    const job = await this.get(name);
    if (!job) throw unknownJobError(name);
    throw job.status === 'running' ? jobRunningError(name) : jobCompletedError(name);
  }

  async get(name: string): Promise<RepublishJob | null> {
    const { rows } = await this.pool.query<JobRow>(`${SELECT_JOB} WHERE name = $1`, [name]);
    return rows[0] ? jobOf(rows[0]) : null;
  }

  async getOrThrow(name: string): Promise<RepublishJob> {
    const job = await this.get(name);
    if (!job) throw unknownJobError(name);
    return job;
  }

  async list(limit = 100): Promise<RepublishJob[]> {
    const { rows } = await this.pool.query<JobRow>(
      `${SELECT_JOB} ORDER BY requested_at DESC, name LIMIT $1`,
      [limit],
    );
    return rows.map(jobOf);
  }

  /** Flags the running job (in any process) to stop after the batch in flight. */
  async requestCancel(name: string): Promise<void> {
    const { rowCount } = await this.pool.query(
      `UPDATE projections.republish_jobs SET cancel_requested = true
        WHERE name = $1 AND status = 'running'`,
      [name],
    );
    if (rowCount === 1) return;
    await this.getOrThrow(name);
    throw new RepublishError('NO_JOB_RUNNING', `Republish job ${name} is not running`, { name });
  }

  /** After Kafka acknowledged a batch: everything up to `checkpoint` is published. */
  async saveCheckpoint(
    name: string,
    checkpoint: GlobalCheckpoint,
    published: number,
  ): Promise<void> {
    await this.pool.query(
      `UPDATE projections.republish_jobs
          SET checkpoint_transaction_id = $2::xid8, checkpoint_position = $3,
              events_published = events_published + $4,
              run_events_published = run_events_published + $4, heartbeat_at = now()
        WHERE name = $1`,
      [name, checkpoint.transactionId.toString(), checkpoint.position.toString(), published],
    );
  }

  /** Keeps the job alive; answers whether a cancel was asked for. */
  async heartbeat(name: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ cancel_requested: boolean }>(
      `UPDATE projections.republish_jobs SET heartbeat_at = now()
        WHERE name = $1 AND status = 'running' RETURNING cancel_requested`,
      [name],
    );
    return rows[0]?.cancel_requested ?? false;
  }

  async finish(
    name: string,
    status: Exclude<RepublishStatus, 'running'>,
    errorCode: string | null,
    errorMessage: string | null,
  ): Promise<void> {
    await this.pool.query(
      `UPDATE projections.republish_jobs
          SET status = $2, finished_at = now(), heartbeat_at = now(), error_code = $3, error_message = $4
        WHERE name = $1`,
      [name, status, errorCode, errorMessage],
    );
  }

  private async firstOrThrow(bound: RangeBound, head: GlobalCheckpoint): Promise<GlobalCheckpoint> {
    const found =
      bound.kind === 'position'
        ? await this.atPosition(bound.position)
        : await this.oneRow(
            `WHERE recorded_at >= $1 AND ${VISIBLE} ORDER BY transaction_id, global_position LIMIT 1`,
            bound.time,
          );
    if (!found) throw missing('from', bound, head);
    return found;
  }

  private async lastOrThrow(bound: RangeBound, head: GlobalCheckpoint): Promise<GlobalCheckpoint> {
    const found =
      bound.kind === 'position'
        ? await this.atPosition(bound.position)
        : await this.oneRow(
            `WHERE recorded_at <= $1 AND ${VISIBLE}
             ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
            bound.time,
          );
    if (!found) throw missing('to', bound, head);
    return found;
  }

  private atPosition(position: bigint): Promise<GlobalCheckpoint | null> {
    return this.oneRow(`WHERE global_position = $1 AND ${VISIBLE}`, position.toString());
  }

  private async oneRow(where: string, parameter: unknown): Promise<GlobalCheckpoint | null> {
    // Aliases differ from the columns: ORDER BY in `where` must sort the columns, not text.
    const { rows } = await this.pool.query<{ tx: string; pos: string }>(
      `SELECT transaction_id::text AS tx, global_position::text AS pos
         FROM event_store.events ${where}`,
      [parameter],
    );
    const row = rows[0];
    return row ? { transactionId: BigInt(row.tx), position: BigInt(row.pos) } : null;
  }

  private async countBetween(
    after: GlobalCheckpoint,
    until: GlobalCheckpoint,
    eventTypes: readonly string[] | null,
  ): Promise<number> {
    const { rows } = await this.pool.query<{ events: string }>(
      `SELECT count(*)::text AS events FROM event_store.events
        WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
          AND (transaction_id, global_position) <= ($3::xid8, $4::bigint)
          AND ($5::text[] IS NULL OR event_type = ANY($5::text[]))`,
      [
        after.transactionId.toString(),
        after.position.toString(),
        until.transactionId.toString(),
        until.position.toString(),
        eventTypes,
      ],
    );
    return Number(rows[0]?.events ?? 0);
  }
}

/** Progress figures of a job; events per second are over the current run. */
export function viewOf(job: RepublishJob, now: Date): RepublishJobView {
  const end = job.finishedAt ?? now;
  const elapsed = (end.getTime() - job.runStartedAt.getTime()) / 1000;
  const eventsPerSecond =
    elapsed > 0 && job.runEventsPublished > 0 ? Math.round(job.runEventsPublished / elapsed) : null;
  const remaining = Math.max(0, job.range.targetEvents - job.eventsPublished);
  return {
    name: job.name,
    topic: job.topic,
    status: job.status,
    fromPosition: job.range.firstPosition === null ? null : Number(job.range.firstPosition),
    toPosition: Number(job.range.target.position),
    eventTypes: job.range.eventTypes,
    rateLimit: job.rateLimit,
    checkpoint: formatCheckpoint(job.checkpoint),
    checkpointPosition: Number(job.checkpoint.position),
    eventsPublished: job.eventsPublished,
    targetEvents: job.range.targetEvents,
    eventsPerSecond,
    percent:
      job.status === 'completed'
        ? 100
        : Math.min(100, Math.round((job.eventsPublished / job.range.targetEvents) * 1000) / 10),
    etaSeconds:
      job.status === 'running' && eventsPerSecond ? Math.round(remaining / eventsPerSecond) : null,
    runs: job.runs,
    requestedBy: job.requestedBy,
    requestedAt: job.requestedAt,
    runStartedAt: job.runStartedAt,
    heartbeatAt: job.heartbeatAt,
    finishedAt: job.finishedAt,
    cancelRequested: job.cancelRequested,
    errorCode: job.errorCode,
    errorMessage: job.errorMessage,
  };
}

function jobOf(row: JobRow): RepublishJob {
  return {
    name: row.name,
    topic: row.topic,
    // A running job whose process died reads as interrupted (and can be resumed).
    status: row.stale ? 'interrupted' : row.status,
    range: {
      start: checkpoint(row.start_transaction_id, row.start_position),
      target: checkpoint(row.target_transaction_id, row.target_position),
      firstPosition: row.first_position === null ? null : BigInt(row.first_position),
      eventTypes: row.event_types,
      targetEvents: Number(row.target_events),
    },
    rateLimit: row.rate_limit,
    checkpoint: checkpoint(row.checkpoint_transaction_id, row.checkpoint_position),
    eventsPublished: Number(row.events_published),
    runs: row.runs,
    runStartedAt: row.run_started_at,
    runEventsPublished: Number(row.run_events_published),
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    heartbeatAt: row.heartbeat_at,
    finishedAt: row.finished_at,
    cancelRequested: row.cancel_requested,
    errorCode: row.stale ? 'HEARTBEAT_LOST' : row.error_code,
    errorMessage: row.stale
      ? 'The process running this job stopped; resume it with "resume": true'
      : row.error_message,
  };
}

function checkpoint(transactionId: string, position: string): GlobalCheckpoint {
  return { transactionId: BigInt(transactionId), position: BigInt(position) };
}

function missing(field: 'from' | 'to', bound: RangeBound, head: GlobalCheckpoint): RepublishError {
  const message =
    bound.kind === 'position'
      ? `${field}: there is no event at position ${bound.position}: stored positions run from 1 to ${head.position} (with gaps where writes rolled back)`
      : `${field}: no event was stored ${field === 'from' ? 'at or after' : 'at or before'} ${bound.time.toISOString()}`;
  return new RepublishError('INVALID_RANGE', message, { headPosition: Number(head.position) });
}
