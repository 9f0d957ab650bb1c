import { randomUUID } from 'node:crypto';
import {
  compareCheckpoints,
  type EventStore,
  formatCheckpoint,
  type GlobalCheckpoint,
  START,
} from '@touchline/event-store';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import {
  applyBatchWithCheckpoint,
  hasSegmentCheckpoints,
  loadCheckpoint,
  type Projector,
  projectionLockKey,
} from '../projector/projector';
import type { Projection } from '../projector/projection';
import { ProjectionOperationError } from './projection-operations.exception';
import type { ProjectionStatusReader } from './projection-status';
import { REBUILD_HEARTBEAT_TIMEOUT_SECONDS } from './rebuild-control';

export type RebuildStatus = 'running' | 'completed' | 'cancelled' | 'failed' | 'interrupted';
export type RebuildMode = 'rebuild' | 'resume';

export interface RebuildRecord {
  readonly id: string;
  readonly projection: string;
  readonly version: number;
  readonly status: RebuildStatus;
  readonly mode: RebuildMode;
  readonly requestedBy: string | null;
  readonly requestedAt: Date;
  readonly startedAt: Date | null;
  readonly heartbeatAt: Date;
  readonly finishedAt: Date | null;
  /** Where the replay stops (the head when it was asked for, or the requested `to`). */
  readonly targetPosition: number | null;
  readonly targetEvents: number | null;
  readonly eventsApplied: number;
  readonly cancelRequested: boolean;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
}

export interface RebuildProgress extends RebuildRecord {
  readonly eventsPerSecond: number | null;
  readonly percent: number | null;
  readonly etaSeconds: number | null;
}

export interface RebuildRequest {
  /** Replay up to this global position (inclusive); default: the head when asked. */
  readonly to?: bigint;
  /** Continue from the projection's checkpoint instead of emptying it first. */
  readonly resume?: boolean;
  readonly actorKeyId: string | null;
}

export interface RebuilderOptions {
  readonly batchSize?: number;
  /** How long to wait for the live projector to give the lock back before giving up. */
  readonly lockTimeoutMs?: number;
  readonly heartbeatMs?: number;
  readonly clock?: () => Date;
}

interface RebuildRow {
  id: string;
  projection: string;
  version: number;
  status: RebuildStatus;
  mode: RebuildMode;
  requested_by: string | null;
  requested_at: Date;
  started_at: Date | null;
  heartbeat_at: Date;
  finished_at: Date | null;
  target_position: string | null;
  target_events: string | null;
  events_applied: string;
  cancel_requested: boolean;
  error_code: string | null;
  error_message: string | null;
  stale: boolean;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class RebuildCancelled extends Error {}

class LockTimeout extends Error {
  readonly code = 'LOCK_TIMEOUT';
}

/**
 * Rebuilds a projection in place: takes its advisory lock (the live projector steps aside, see
 * RebuildControl), empties its tables and checkpoint in one transaction, and replays the global
 * log from zero through the live projector's own batch function, committing rows and checkpoint
 * together. A crash leaves a consistent checkpoint: whoever takes the lock next continues there.
 */
export class ProjectionRebuilder {
  private readonly running = new Map<string, { cancel: boolean; done: Promise<void> }>();
  private readonly batchSize: number;
  private readonly lockTimeoutMs: number;
  private readonly heartbeatMs: number;
  private readonly clock: () => Date;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly status: ProjectionStatusReader,
    private readonly localProjector: (name: string) => Projector | undefined,
    private readonly logger: Logger,
    options: RebuilderOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 2_000;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
    this.heartbeatMs = options.heartbeatMs ?? 1_000;
    this.clock = options.clock ?? (() => new Date());
  }

  /** Validate and record the rebuild, then run it in the background; refusals change nothing. */
  async start(projection: Projection, request: RebuildRequest): Promise<RebuildProgress> {
    const tables = this.tablesOrThrow(projection);
    const target = await this.targetOrThrow(request.to);
    const mode: RebuildMode = request.resume ? 'resume' : 'rebuild';
    let targetEvents = await this.status.countUpTo(target);
    if (mode === 'resume') {
      if (await hasSegmentCheckpoints(this.pool, projection.name)) {
        // Segments stand at different positions: one replay from the slowest would apply the
        // faster segments' events twice. They catch up by themselves once running.
        throw new ProjectionOperationError(
          'INVALID_RANGE',
          `${projection.name} runs as segments, each with its own checkpoint: a resume cannot continue them; run a full rebuild instead`,
        );
      }
      const { checkpoint } = await this.status.checkpoint(projection);
      targetEvents -= await this.status.countUpTo(checkpoint);
      if (compareCheckpoints(checkpoint, target) >= 0) {
        throw new ProjectionOperationError(
          'INVALID_RANGE',
          `${projection.name} is already at ${formatCheckpoint(checkpoint)}: nothing to resume up to position ${target.position}`,
        );
      }
    }
    await this.markInterrupted(projection.name);
    const id = randomUUID();
    try {
      await this.pool.query(
        `INSERT INTO projections.rebuilds
           (id, projection, version, status, mode, requested_by, target_position, target_events)
         VALUES ($1, $2, $3, 'running', $4, $5, $6, $7)`,
        [
          id,
          projection.name,
          projection.version,
          mode,
          request.actorKeyId,
          target.position.toString(),
          targetEvents,
        ],
      );
    } catch (error) {
      if ((error as { code?: unknown }).code === '23505') {
        const current = await this.latest(projection.name);
        throw new ProjectionOperationError(
          'REBUILD_RUNNING',
          `A rebuild of ${projection.name} is already running (${current?.id ?? 'unknown'}); cancel it or wait`,
          { rebuildId: current?.id ?? null },
        );
      }
      throw error;
    }
    const control = { cancel: false, done: Promise.resolve() };
    control.done = this.run(id, projection, tables, mode, target, control).finally(() =>
      this.running.delete(id),
    );
    this.running.set(id, control);
    const started = await this.latest(projection.name);
    if (!started) throw new Error(`rebuild ${id} vanished`);
    return started;
  }

  /** Ask the running rebuild of a projection (in any process) to stop after its current batch. */
  async cancel(projection: string): Promise<RebuildProgress> {
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE projections.rebuilds SET cancel_requested = true
        WHERE projection = $1 AND status = 'running' RETURNING id`,
      [projection],
    );
    const id = rows[0]?.id;
    if (!id) {
      throw new ProjectionOperationError(
        'NO_REBUILD_RUNNING',
        `No rebuild of ${projection} is running`,
      );
    }
    const local = this.running.get(id);
    if (local) local.cancel = true;
    const latest = await this.latest(projection);
    if (!latest) throw new Error(`rebuild ${id} vanished`);
    return latest;
  }

  /** The newest rebuild of a projection, with its progress. A dead one reads as interrupted. */
  async latest(projection: string): Promise<RebuildProgress | null> {
    const { rows } = await this.pool.query<RebuildRow>(
      `SELECT *, heartbeat_at < now() - make_interval(secs => $2) AS stale
         FROM projections.rebuilds WHERE projection = $1
        ORDER BY requested_at DESC, id LIMIT 1`,
      [projection, REBUILD_HEARTBEAT_TIMEOUT_SECONDS],
    );
    const row = rows[0];
    return row ? this.progressOf(row) : null;
  }

  /** On shutdown: stop this process's rebuilds; each one's checkpoint is where the next resumes. */
  async stopAll(): Promise<void> {
    for (const control of this.running.values()) control.cancel = true;
    await Promise.all([...this.running.values()].map((control) => control.done));
  }

  private tablesOrThrow(projection: Projection): readonly string[] {
    const tables = projection.tables ?? [];
    if (tables.length === 0 || !tables.every((table) => TABLE_NAME.test(table))) {
      throw new ProjectionOperationError(
        'NOT_REBUILDABLE',
        `${projection.name} does not declare the tables it owns (schema.table), so it cannot be rebuilt here`,
      );
    }
    return tables;
  }

  private async targetOrThrow(to: bigint | undefined): Promise<GlobalCheckpoint> {
    const head = await this.store.head();
    if (to === undefined) return head;
    const at = to >= 1n && to <= head.position ? await this.status.checkpointAt(to) : null;
    if (!at) {
      throw new ProjectionOperationError(
        'INVALID_RANGE',
        head.position === 0n
          ? `There is no event at position ${to}: the log is empty`
          : `There is no event at position ${to}: stored positions run from 1 to ${head.position} (with gaps where writes rolled back)`,
        { headPosition: Number(head.position) },
      );
    }
    return at;
  }

  private async markInterrupted(projection: string): Promise<void> {
    await this.pool.query(
      `UPDATE projections.rebuilds SET status = 'interrupted', finished_at = now(),
              error_code = 'HEARTBEAT_LOST',
              error_message = 'The rebuilding process stopped; the projection continued from its checkpoint'
        WHERE projection = $1 AND status = 'running'
          AND heartbeat_at < now() - make_interval(secs => $2)`,
      [projection, REBUILD_HEARTBEAT_TIMEOUT_SECONDS],
    );
  }

  private async run(
    id: string,
    projection: Projection,
    tables: readonly string[],
    mode: RebuildMode,
    target: GlobalCheckpoint,
    control: { cancel: boolean },
  ): Promise<void> {
    const log = this.logger.child({ projection: projection.name, rebuildId: id });
    let applied = 0;
    const heartbeat = setInterval(() => {
      void this.pool
        .query<{ cancel_requested: boolean }>(
          `UPDATE projections.rebuilds SET heartbeat_at = now(), events_applied = $2
            WHERE id = $1 RETURNING cancel_requested`,
          [id, applied],
        )
        .then(({ rows }) => {
          if (rows[0]?.cancel_requested) control.cancel = true;
        })
        .catch(() => undefined);
    }, this.heartbeatMs);
    const local = this.localProjector(projection.name);
    let lock: PoolClient | null = null;
    let outcome: { status: RebuildStatus; code: string | null; message: string | null };
    try {
      await local?.pause();
      lock = await this.lockOrThrow(projection, control);
      if (mode === 'rebuild') await this.empty(id, projection, tables);
      else
        await this.pool.query('UPDATE projections.rebuilds SET started_at = now() WHERE id = $1', [
          id,
        ]);
      log.info({ mode, target: formatCheckpoint(target) }, 'projection rebuild started');
      let after = mode === 'rebuild' ? START : await loadCheckpoint(this.pool, projection);
      while (compareCheckpoints(after, target) < 0) {
        if (control.cancel) throw new RebuildCancelled();
        const page = await this.store.readAll({
          after,
          maxCount: projection.batchSize ?? this.batchSize,
        });
        const events = page.events.filter(
          (e) =>
            compareCheckpoints(
              { transactionId: e.transactionId, position: e.globalPosition },
              target,
            ) <= 0,
        );
        const last = events[events.length - 1];
        if (!last) break;
        const checkpoint = { transactionId: last.transactionId, position: last.globalPosition };
        await applyBatchWithCheckpoint(this.pool, projection, events, checkpoint);
        applied += events.length;
        after = checkpoint;
      }
      outcome = { status: 'completed', code: null, message: null };
      log.info(
        { events: applied, checkpoint: formatCheckpoint(after) },
        'projection rebuild completed',
      );
    } catch (error) {
      if (error instanceof RebuildCancelled) {
        outcome = {
          status: 'cancelled',
          code: null,
          message: 'Cancelled; the live projector continues from the last committed batch',
        };
        log.warn({ events: applied }, 'projection rebuild cancelled');
      } else {
        outcome = {
          status: 'failed',
          code: errorCode(error),
          message: error instanceof Error ? error.message.slice(0, 500) : String(error),
        };
        log.error({ err: error, events: applied }, 'projection rebuild failed');
      }
    } finally {
      clearInterval(heartbeat);
    }
    await this.pool
      .query(
        `UPDATE projections.rebuilds SET status = $2, events_applied = $3, finished_at = now(),
                heartbeat_at = now(), error_code = $4, error_message = $5
          WHERE id = $1`,
        [id, outcome.status, applied, outcome.code, outcome.message],
      )
      .catch((error: unknown) => log.error({ err: error }, 'could not record the rebuild outcome'));
    if (lock) await this.unlock(projection, lock);
    local?.resume();
  }

  /** Take the projection's lock; the live projector gives it back within about a second. */
  private async lockOrThrow(
    projection: Projection,
    control: { cancel: boolean },
  ): Promise<PoolClient> {
    const deadline = this.clock().getTime() + this.lockTimeoutMs;
    for (;;) {
      if (control.cancel) throw new RebuildCancelled();
      const client = await this.pool.connect();
      const { rows } = await client
        .query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
          projectionLockKey(projection),
        ])
        .catch((error: unknown) => {
          client.release(true);
          throw error;
        });
      if (rows[0]?.locked) {
        client.on('error', () => undefined);
        return client;
      }
      client.release();
      if (this.clock().getTime() > deadline) {
        throw new LockTimeout(
          `The lock of ${projection.name} was not given back within ${this.lockTimeoutMs} ms; nothing was changed`,
        );
      }
      await sleep(200);
    }
  }

  private async unlock(projection: Projection, lock: PoolClient): Promise<void> {
    await lock
      .query('SELECT pg_advisory_unlock(hashtext($1))', [projectionLockKey(projection)])
      .catch(() => undefined);
    lock.release(true);
  }

  /** Rows and checkpoint go together: a crash after this resumes a replay from zero. */
  private async empty(
    id: string,
    projection: Projection,
    tables: readonly string[],
  ): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const quoted = tables.map((table) =>
        table
          .split('.')
          .map((part) => `"${part}"`)
          .join('.'),
      );
      await client.query(`TRUNCATE ${quoted.join(', ')}`);
      // Segments' rows too: after the rebuild every segment continues from the rebuilt position.
      await client.query(
        `DELETE FROM projections.checkpoints WHERE projection = $1 OR starts_with(projection, $1 || '#')`,
        [projection.name],
      );
      await client.query(
        'UPDATE projections.rebuilds SET started_at = now(), heartbeat_at = now() WHERE id = $1',
        [id],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private progressOf(row: RebuildRow): RebuildProgress {
    const status: RebuildStatus =
      row.status === 'running' && row.stale ? 'interrupted' : row.status;
    const applied = Number(row.events_applied);
    const targetEvents = row.target_events === null ? null : Number(row.target_events);
    const end = row.finished_at ?? this.clock();
    const elapsed = row.started_at ? (end.getTime() - row.started_at.getTime()) / 1000 : 0;
    const eventsPerSecond = elapsed > 0 ? Math.round(applied / elapsed) : null;
    const remaining = targetEvents === null ? null : Math.max(0, targetEvents - applied);
    return {
      id: row.id,
      projection: row.projection,
      version: row.version,
      status,
      mode: row.mode,
      requestedBy: row.requested_by,
      requestedAt: row.requested_at,
      startedAt: row.started_at,
      heartbeatAt: row.heartbeat_at,
      finishedAt: row.finished_at,
      targetPosition: row.target_position === null ? null : Number(row.target_position),
      targetEvents,
      eventsApplied: applied,
      cancelRequested: row.cancel_requested,
      errorCode: row.error_code,
      errorMessage: row.error_message,
      eventsPerSecond,
      percent:
        targetEvents === null
          ? null
          : targetEvents === 0
            ? 100
            : Math.min(100, Math.round((applied / targetEvents) * 1000) / 10),
      etaSeconds:
        status !== 'running' || remaining === null
          ? null
          : eventsPerSecond
            ? Math.round(remaining / eventsPerSecond)
            : null,
    };
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) return code;
  return error instanceof Error ? error.constructor.name : 'UNKNOWN';
}
