import { randomUUID } from 'node:crypto';
import {
  compareCheckpoints,
  type EventStore,
  formatCheckpoint,
  type GlobalCheckpoint,
  type ReadAllResult,
  START,
} from '@touchline/event-store';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import {
  applyBatchWithCheckpoint,
  beginBatchWithCheckpoint,
  hasSegmentCheckpoints,
  loadCheckpoint,
  type Projector,
  projectionLockKey,
} from '../projector/projector';
import { catchingUp, ConcurrentWriteError, type Projection } from '../projector/projection';
import { ProjectionOperationError } from './projection-operations.exception';
import type { ProjectionStatusReader } from './projection-status';
import {
  compareWithLive,
  createEmptyCopies,
  dropCopies,
  NEXT_SCHEMA,
  PREVIOUS_SCHEMA,
  replaceLiveRows,
  type TableDifference,
  tablesIn,
} from './shadow-tables';
import { REBUILD_HEARTBEAT_TIMEOUT_SECONDS } from './rebuild-control';
import { restoreIndexes, type SetAsideIndex, setAsideIndexes } from './replay-indexes';

export type RebuildStatus = 'running' | 'completed' | 'cancelled' | 'failed' | 'interrupted';
/**
 * `rebuild`: empty the live tables and replay in place. `resume`: continue one. `blue-green`:
 * build beside the live tables and switch in one transaction. `dry-run`: build beside, compare
 * with the live tables, change nothing. `rollback`: switch back to the version the last
 * blue/green switch replaced. `reset`: empty the live tables and checkpoint, nothing more: the
 * live projector replays from zero at its own pace.
 */
export type RebuildMode = 'rebuild' | 'resume' | 'reset' | 'blue-green' | 'dry-run' | 'rollback';
/** What a running rebuild is doing; the events count only moves while it replays. */
export type RebuildPhase =
  'replaying' | 'completing deferred work' | 'comparing' | 'switching' | 'building indexes';

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
  /** Null before it starts (and for rebuilds recorded before phases were). */
  readonly phase: RebuildPhase | null;
  /** A dry run's comparison with the live tables (null for other modes, or before it ends). */
  readonly diff: readonly TableDifference[] | null;
}

export interface RebuildProgress extends RebuildRecord {
  readonly eventsPerSecond: number | null;
  readonly percent: number | null;
  readonly etaSeconds: number | null;
}

export interface RebuildRequest {
  /** Replay up to this global position (inclusive); default: the head when asked. */
  readonly to?: bigint;
  /** Replay only the events stored at or before this time (the log's own order is by storing). */
  readonly until?: Date;
  /** Continue from the projection's checkpoint instead of emptying it first. */
  readonly resume?: boolean;
  /** Build beside the live tables: switch to the result, or (dry run) only compare. */
  readonly strategy?: 'in-place' | 'blue-green' | 'dry-run';
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
  diff: TableDifference[] | null;
  phase: RebuildPhase | null;
  stale: boolean;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A replayed batch handed over and committing: counted as applied once committed. */
interface InFlightBatch {
  committed: Promise<void>;
  events: number;
  checkpoint: GlobalCheckpoint;
}

/**
 * Batches rolled back in a row because another writer changed the projection's state under
 * them (ConcurrentWriteError) before a replay gives up: each retry starts from the last commit.
 */
const MAX_CONCURRENT_WRITE_RETRIES = 3;

class RebuildCancelled extends Error {}

/** A copy built against inputs besides the log (unmerges) that moved in its last step. */
class InputsChanged extends Error {
  readonly code = 'INPUTS_CHANGED';
}

/** Builds of a blue/green or dry-run copy while unmerges keep moving; then the switch is refused. */
const MAX_COPY_ATTEMPTS = 3;

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
    const strategy = request.strategy ?? 'in-place';
    const mode: RebuildMode =
      strategy !== 'in-place' ? strategy : request.resume ? 'resume' : 'rebuild';
    if (mode === 'blue-green' || mode === 'dry-run') {
      await this.besideOrThrow(projection, mode);
      if (request.to !== undefined || request.until !== undefined || request.resume) {
        throw new ProjectionOperationError(
          'INVALID_REQUEST',
          `A ${mode} rebuild replays all of the history; "to", "until" and "resume" are for in-place rebuilds`,
        );
      }
    }
    // A dry run compares at the live projection's position; the others go to the head (or `to`).
    const target =
      mode === 'dry-run'
        ? await loadCheckpoint(this.pool, projection)
        : request.until !== undefined
          ? await this.targetAtTimeOrThrow(request.until)
          : await this.targetOrThrow(request.to);
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
    return this.launch(projection, tables, mode, target, targetEvents, request.actorKeyId);
  }

  /**
   * Empty the projection's tables and checkpoint in one transaction, with the live projectors
   * stepped aside; they then replay from position zero by themselves.
   */
  async reset(projection: Projection, actorKeyId: string | null): Promise<RebuildProgress> {
    const tables = this.tablesOrThrow(projection);
    return this.launch(projection, tables, 'reset', START, 0, actorKeyId);
  }

  /**
   * Switch back to the version the last blue/green switch replaced (kept in
   * read_models_previous): its rows and checkpoint become live again, and the replaced version
   * becomes the previous one, so a second rollback undoes the first.
   */
  async rollback(projection: Projection, actorKeyId: string | null): Promise<RebuildProgress> {
    const tables = this.tablesOrThrow(projection);
    const previous = await this.previousVersion(projection.name);
    if (!previous) {
      throw new ProjectionOperationError(
        'NO_PREVIOUS_VERSION',
        `${projection.name} has no previous version to roll back to: none was kept, or it was dropped`,
      );
    }
    return this.launch(projection, tables, 'rollback', previous.checkpoint, 0, actorKeyId);
  }

  /** Drop the kept previous version (its tables and record); nothing to roll back to after. */
  async dropPrevious(projection: Projection): Promise<{ dropped: boolean }> {
    const tables = this.tablesOrThrow(projection);
    const running = await this.latest(projection.name);
    if (running?.status === 'running') {
      throw new ProjectionOperationError(
        'REBUILD_RUNNING',
        `A rebuild of ${projection.name} is running (${running.id}); drop the previous version after it`,
        { rebuildId: running.id },
      );
    }
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rowCount } = await client.query(
        'DELETE FROM projections.previous_versions WHERE projection = $1',
        [projection.name],
      );
      await dropCopies(client, tables, PREVIOUS_SCHEMA);
      await client.query('COMMIT');
      return { dropped: (rowCount ?? 0) > 0 };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The version kept for rollback, if any. */
  async previousVersion(
    projection: string,
  ): Promise<{ version: number; checkpoint: GlobalCheckpoint; replacedAt: Date } | null> {
    const { rows } = await this.pool.query<{
      version: number;
      transaction_id: string;
      position: string;
      replaced_at: Date;
    }>(
      `SELECT version, transaction_id, "position", replaced_at FROM projections.previous_versions
        WHERE projection = $1`,
      [projection],
    );
    const row = rows[0];
    return row
      ? {
          version: row.version,
          checkpoint: { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) },
          replacedAt: row.replaced_at,
        }
      : null;
  }

  /** Refused unless the projection can write its tables elsewhere and compare there. */
  private async besideOrThrow(projection: Projection, mode: RebuildMode): Promise<void> {
    if (!projection.inSchema) {
      throw new ProjectionOperationError(
        'NOT_REBUILDABLE',
        `${projection.name} cannot write its tables beside the live ones, so it cannot be rebuilt ${mode}; rebuild it in place`,
      );
    }
    if (mode === 'dry-run' && (await hasSegmentCheckpoints(this.pool, projection.name))) {
      throw new ProjectionOperationError(
        'NOT_REBUILDABLE',
        `${projection.name} runs as segments standing at different positions, so a dry run has no single position to compare at; use a blue/green rebuild`,
      );
    }
  }

  /** Record the rebuild (the unique index refuses a second running one) and run it. */
  private async launch(
    projection: Projection,
    tables: readonly string[],
    mode: RebuildMode,
    target: GlobalCheckpoint,
    targetEvents: number,
    actorKeyId: string | null,
  ): Promise<RebuildProgress> {
    await this.markInterrupted(projection.name);
    const id = randomUUID();
    try {
      await this.pool.query(
        `INSERT INTO projections.rebuilds
           (id, projection, version, status, mode, requested_by, target_position, target_events, switching)
         VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8)`,
        [
          id,
          projection.name,
          projection.version,
          mode,
          actorKeyId,
          target.position.toString(),
          targetEvents,
          // A rollback is all switch: the live projectors step aside from the start.
          mode === 'rollback',
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

  private async targetAtTimeOrThrow(until: Date): Promise<GlobalCheckpoint> {
    const at = await this.status.checkpointAtTime(until);
    if (!at) {
      throw new ProjectionOperationError(
        'INVALID_RANGE',
        `No event was stored at or before ${until.toISOString()}: there is nothing to replay up to then`,
      );
    }
    return at;
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
    // A rebuild whose process died between dropping indexes and building them again. Should
    // one not build (the rows break its key), say so and go on: the next rebuild of this
    // projection empties the tables and builds it at its end.
    await this.restoreSetAsideIndexes(projection, null).catch((error: unknown) =>
      this.logger.warn(
        { projection, err: error },
        'indexes an interrupted rebuild set aside could not be built again; a rebuild of the projection will',
      ),
    );
  }

  /**
   * Every projection's interrupted rebuilds marked so, and the indexes they set aside built
   * again: what a process does on start, so the live tables do not wait for the next rebuild.
   */
  async recoverInterrupted(projections: readonly string[]): Promise<void> {
    for (const projection of projections) await this.markInterrupted(projection);
  }

  /**
   * Build again the indexes `projection`'s rebuilds set aside: those of every rebuild that is
   * not running, and of `running` (the caller's own). Each row once: it is locked meanwhile, and
   * another process that gets to it after finds nothing left to do. `starting` runs first when
   * there is anything to build.
   */
  private async restoreSetAsideIndexes(
    projection: string,
    running: string | null,
    starting: () => Promise<void> = () => Promise.resolve(),
  ): Promise<void> {
    const { rows: pending } = await this.pool.query<{ id: string }>(
      `SELECT id FROM projections.rebuilds
        WHERE projection = $1 AND set_aside_indexes IS NOT NULL
          AND (status <> 'running' OR id = $2)
        ORDER BY requested_at`,
      [projection, running],
    );
    if (pending.length === 0) return;
    await starting();
    for (const { id } of pending) await this.restoreRowIndexes(id);
  }

  /** Live index names earlier rebuilds of `projection` set aside and have not built again. */
  private async missingIndexes(
    client: PoolClient,
    projection: Projection,
    tables: readonly string[],
    id: string,
  ): Promise<Set<string>> {
    const { rows } = await client.query<{ set_aside_indexes: SetAsideIndex[] }>(
      `SELECT set_aside_indexes FROM projections.rebuilds
        WHERE projection = $1 AND id <> $2 AND set_aside_indexes IS NOT NULL`,
      [projection.name, id],
    );
    const schema = liveSchemaOf(tables);
    return new Set(
      rows.flatMap((row) =>
        row.set_aside_indexes.filter((i) => i.schema === schema).map((i) => i.name),
      ),
    );
  }

  private async restoreRowIndexes(id: string): Promise<void> {
    await this.inTransaction(async (client) => {
      const { rows } = await client.query<{ set_aside_indexes: SetAsideIndex[] | null }>(
        'SELECT set_aside_indexes FROM projections.rebuilds WHERE id = $1 FOR UPDATE',
        [id],
      );
      const indexes = rows[0]?.set_aside_indexes ?? null;
      if (indexes === null) return;
      await restoreIndexes(client, indexes);
      await client.query('UPDATE projections.rebuilds SET set_aside_indexes = NULL WHERE id = $1', [
        id,
      ]);
    });
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
    const progress = { applied: 0 };
    const heartbeat = setInterval(() => {
      void this.pool
        .query<{ cancel_requested: boolean }>(
          `UPDATE projections.rebuilds SET heartbeat_at = now(), events_applied = $2
            WHERE id = $1 RETURNING cancel_requested`,
          [id, progress.applied],
        )
        .then(({ rows }) => {
          if (rows[0]?.cancel_requested) control.cancel = true;
        })
        .catch(() => undefined);
    }, this.heartbeatMs);
    const local = this.localProjector(projection.name);
    const held: { lock: PoolClient | null } = { lock: null };
    /** Make the live projector(s) step aside and take the projection's lock. */
    const takeOver = async (): Promise<void> => {
      await local?.pause();
      held.lock = await this.lockOrThrow(projection, control);
    };
    let outcome: { status: RebuildStatus; code: string | null; message: string | null };
    try {
      log.info({ mode, target: formatCheckpoint(target) }, 'projection rebuild started');
      let failure: { error: unknown } | null = null;
      try {
        if (mode === 'rebuild' || mode === 'resume') {
          await takeOver();
          if (mode === 'rebuild') await this.empty(id, projection, tables, 'set indexes aside');
          else await this.markStarted(id);
          const from = mode === 'rebuild' ? START : await loadCheckpoint(this.pool, projection);
          await this.setPhase(id, 'replaying', progress);
          const at = await this.replay(catchingUp(projection), from, target, control, progress);
          // What the replay deferred (profile recomputes) one plain apply completes.
          if (projection.applyCatchingUp && progress.applied > 0) {
            await this.setPhase(id, 'completing deferred work', progress);
            await applyBatchWithCheckpoint(this.pool, projection, [], at);
          }
        } else if (mode === 'reset') {
          await takeOver();
          await this.empty(id, projection, tables, 'keep indexes');
        } else if (mode === 'rollback') {
          await this.markStarted(id);
          await this.setPhase(id, 'switching', progress);
          await takeOver();
          await this.switchBack(projection, tables);
        } else {
          await this.buildBeside(id, projection, tables, mode, target, control, progress, takeOver);
        }
      } catch (error) {
        failure = { error };
      }
      // Whatever the outcome, the tables get their indexes back before the live projector
      // continues (after the profile recompute above, so its rows are indexed in one pass).
      await this.restoreSetAsideIndexes(projection.name, id, () => {
        log.info('building the indexes the replay set aside');
        return this.setPhase(id, 'building indexes', progress);
      }).catch((error: unknown) => {
        failure ??= { error };
      });
      if (failure !== null) throw failure.error;
      outcome = { status: 'completed', code: null, message: null };
      log.info({ mode, events: progress.applied }, 'projection rebuild completed');
    } catch (error) {
      if (error instanceof RebuildCancelled) {
        outcome = {
          status: 'cancelled',
          code: null,
          message: 'Cancelled; the live projector continues from the last committed batch',
        };
        log.warn({ events: progress.applied }, 'projection rebuild cancelled');
      } else {
        outcome = {
          status: 'failed',
          code: errorCode(error),
          message: error instanceof Error ? error.message.slice(0, 500) : String(error),
        };
        log.error({ err: error, events: progress.applied }, 'projection rebuild failed');
      }
    } finally {
      clearInterval(heartbeat);
    }
    await this.pool
      .query(
        `UPDATE projections.rebuilds SET status = $2, events_applied = $3, finished_at = now(),
                heartbeat_at = now(), error_code = $4, error_message = $5, switching = false
          WHERE id = $1`,
        [id, outcome.status, progress.applied, outcome.code, outcome.message],
      )
      .catch((error: unknown) => log.error({ err: error }, 'could not record the rebuild outcome'));
    if (held.lock) await this.unlock(projection, held.lock);
    local?.resume();
  }

  /**
   * The phase, with the events applied so far: a progress line that reads the new phase must not
   * show the count of the last heartbeat (a short replay would read "0 events, completing").
   */
  private async setPhase(
    id: string,
    phase: RebuildPhase,
    progress: { applied: number },
  ): Promise<void> {
    await this.pool.query(
      'UPDATE projections.rebuilds SET phase = $2, events_applied = $3 WHERE id = $1',
      [id, phase, progress.applied],
    );
  }

  private async markStarted(id: string): Promise<void> {
    await this.pool.query('UPDATE projections.rebuilds SET started_at = now() WHERE id = $1', [id]);
  }

  /**
   * Apply the log after `from` up to `target` (inclusive) to `projection`, batch by batch through
   * the live projector's own batch function. Returns where it stopped.
   */
  private async replay(
    projection: Projection,
    from: GlobalCheckpoint,
    target: GlobalCheckpoint,
    control: { cancel: boolean },
    progress: { applied: number },
  ): Promise<GlobalCheckpoint> {
    let after = from;
    const maxCount = projection.batchSize ?? this.batchSize;
    // Where the last committed batch left the checkpoint: a retry starts there.
    let committedAt = from;
    let conflicts = 0;
    for (;;) {
      // The next page is read while the current one is applied (same pages, same order).
      let reading: Promise<ReadAllResult> | null = null;
      // A projection that can (applyQueued) has one batch committing while the next is
      // computed: at most two transactions open, and a batch counts as applied once committed.
      let committing: InFlightBatch | null = null;
      try {
        while (compareCheckpoints(after, target) < 0) {
          if (control.cancel) throw new RebuildCancelled();
          const page: ReadAllResult = await (reading ?? this.store.readAll({ after, maxCount }));
          reading =
            page.events.length === maxCount
              ? this.store.readAll({ after: page.checkpoint, maxCount })
              : null;
          reading?.catch(() => undefined);
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
          const previous: InFlightBatch | null = committing;
          // Commits only after the batch before it did (it rolls back if that one failed).
          const { locked, committed } = await beginBatchWithCheckpoint(
            this.pool,
            projection,
            events,
            checkpoint,
            previous?.committed,
          );
          committing = { committed, events: events.length, checkpoint };
          if (previous) {
            await previous.committed;
            progress.applied += previous.events;
            committedAt = previous.checkpoint;
            conflicts = 0;
          }
          // This one is ahead of the next in the queue for the lock that orders them.
          await locked;
          after = checkpoint;
        }
        const lastBatch: InFlightBatch | null = committing;
        committing = null;
        if (lastBatch) {
          await lastBatch.committed;
          progress.applied += lastBatch.events;
          committedAt = lastBatch.checkpoint;
        }
        return after;
      } catch (error) {
        // Stopping (cancelled or failed): the batch in flight ends either way before we go on,
        // so the checkpoint is where the last committed batch left it.
        const inFlight: InFlightBatch | null = committing;
        if (inFlight) {
          await inFlight.committed.then(
            () => {
              progress.applied += inFlight.events;
              committedAt = inFlight.checkpoint;
            },
            () => undefined,
          );
        }
        if (!(error instanceof ConcurrentWriteError) || conflicts >= MAX_CONCURRENT_WRITE_RETRIES)
          throw error;
        conflicts += 1;
        this.logger.warn(
          { projection: projection.name, at: formatCheckpoint(committedAt), attempt: conflicts },
          'another writer changed the projection under a batch of the replay: replaying again from the last committed batch',
        );
        after = committedAt;
      }
    }
  }

  /**
   * Blue/green and dry run. The projection's copy writes into NEXT_SCHEMA (checkpoint
   * `<name>@next`) while the live projector keeps the live tables current. Only for the last
   * step do the live projectors step aside: a dry run brings the copy to the live checkpoint and
   * compares; a blue/green build takes the copy to the head and swaps the rows in one
   * transaction, keeping the replaced ones in PREVIOUS_SCHEMA for rollback.
   */
  private async buildBeside(
    id: string,
    projection: Projection,
    tables: readonly string[],
    mode: RebuildMode,
    target: GlobalCheckpoint,
    control: { cancel: boolean },
    progress: { applied: number },
    takeOver: () => Promise<void>,
  ): Promise<void> {
    const copy = projection.inSchema?.(NEXT_SCHEMA);
    if (!copy) throw new Error(`${projection.name} has no inSchema`);
    const build: Projection = {
      name: `${projection.name}@next`,
      version: projection.version,
      ...(copy.batchSize === undefined ? {} : { batchSize: copy.batchSize }),
      apply: (client, events) => copy.apply(client, events),
    };
    // The copy catches up as an in-place rebuild does (profile recomputes deferred, batches
    // overlapped); the steps with the live projectors stepped aside apply plainly.
    const catchingUpCopy = catchingUp({
      ...build,
      ...(copy.applyCatchingUp ? { applyCatchingUp: copy.applyCatchingUp.bind(copy) } : {}),
      ...(copy.applyCatchingUpQueued
        ? { applyCatchingUpQueued: copy.applyCatchingUpQueued.bind(copy) }
        : {}),
    });
    /** What the catching up deferred, completed by one plain apply of no events. */
    const completeDeferred = async (at: GlobalCheckpoint): Promise<void> => {
      if (copy.applyCatchingUp) await applyBatchWithCheckpoint(this.pool, build, [], at);
    };
    // Built again from zero, beside the live rows, while what the rows depend on besides the
    // log (an admin's unmerge) moved during the build: the copy cannot apply it to rows it has
    // already written.
    let inputs: string | null = null;
    let at: GlobalCheckpoint = START;
    for (let attempt = 1; ; attempt += 1) {
      await this.inTransaction(async (client) => {
        await createEmptyCopies(client, tables, NEXT_SCHEMA);
        // The copy is only read row by row when it replaces the live rows (which keep their
        // indexes), and is dropped after: the indexes set aside are not built again.
        await setAsideIndexes(
          client,
          projection,
          NEXT_SCHEMA,
          await this.missingIndexes(client, projection, tables, id),
        );
        await client.query('DELETE FROM projections.checkpoints WHERE projection = $1', [
          build.name,
        ]);
        await client.query(
          `UPDATE projections.rebuilds SET started_at = now(), phase = 'replaying' WHERE id = $1`,
          [id],
        );
        inputs = (await projection.inputsOutsideTheLog?.(client)) ?? null;
      });
      progress.applied = 0;
      at = await this.replay(catchingUpCopy, START, target, control, progress);
      const now = await this.inTransaction(
        async (client) => (await projection.inputsOutsideTheLog?.(client)) ?? null,
      );
      if (now === inputs || attempt >= MAX_COPY_ATTEMPTS) break;
      this.logger.warn(
        { projection: projection.name, rebuildId: id, attempt },
        'what the rows depend on besides the log (an unmerge) changed while the copy was built: building it again from zero',
      );
    }
    /** The switch or the comparison, only against the inputs the copy was built with. */
    const refuseIfInputsMoved = async (client: PoolClient): Promise<void> => {
      if (!projection.inputsOutsideTheLog) return;
      // Locked first by a writer outside the projector (an unmerge): it committed before this,
      // and is seen below, or waits until this transaction ends.
      for (const table of projection.bookkeepingTables ?? [])
        await client.query(`SELECT 1 FROM ${table} FOR UPDATE`);
      if ((await projection.inputsOutsideTheLog(client)) !== inputs) {
        throw new InputsChanged(
          `${projection.name}: what its rows depend on besides the log (an unmerge) changed while the copy was built; nothing was switched. Run the rebuild again.`,
        );
      }
    };

    // The live projectors step aside from here on: what the copy lacks is applied, then the
    // copy is compared (dry run) or switched in.
    await this.pool.query(
      `UPDATE projections.rebuilds SET switching = true, phase = $2, events_applied = $3 WHERE id = $1`,
      [id, mode === 'dry-run' ? 'comparing' : 'switching', progress.applied],
    );
    await takeOver();
    if (mode === 'dry-run') {
      const live = await loadCheckpoint(this.pool, projection);
      at = await this.replay(build, at, live, control, progress);
      await completeDeferred(at);
      const bookkeeping = new Set(projection.bookkeepingTables ?? []);
      const diff = await this.inTransaction(async (client) => {
        await refuseIfInputsMoved(client);
        return compareWithLive(
          client,
          tables.filter((table) => !bookkeeping.has(table)),
          NEXT_SCHEMA,
        );
      });
      await this.pool.query('UPDATE projections.rebuilds SET diff = $2 WHERE id = $1', [
        id,
        JSON.stringify(diff),
      ]);
    } else {
      at = await this.replay(build, at, await this.store.head(), control, progress);
      await completeDeferred(at);
      const builtAt = at;
      await this.inTransaction(async (client) => {
        await refuseIfInputsMoved(client);
        const live = await loadCheckpoint(client, projection);
        const { rows } = await client.query<{ version: number }>(
          'SELECT version FROM projections.checkpoints WHERE projection = $1',
          [projection.name],
        );
        await replaceLiveRows(client, tables, NEXT_SCHEMA, PREVIOUS_SCHEMA);
        await this.keepPrevious(
          client,
          projection,
          tables,
          rows[0]?.version ?? projection.version,
          live,
        );
        await this.setCheckpoint(client, projection, projection.version, builtAt);
      });
    }
    await this.inTransaction(async (client) => {
      await dropCopies(client, tables, NEXT_SCHEMA);
      await client.query('DELETE FROM projections.checkpoints WHERE projection = $1', [build.name]);
    });
  }

  /** Rollback: the kept previous version becomes live, the live one becomes the previous. */
  private async switchBack(projection: Projection, tables: readonly string[]): Promise<void> {
    await this.inTransaction(async (client) => {
      const { rows } = await client.query<{
        version: number;
        transaction_id: string;
        position: string;
      }>(
        `SELECT version, transaction_id, "position" FROM projections.previous_versions
          WHERE projection = $1 FOR UPDATE`,
        [projection.name],
      );
      const previous = rows[0];
      if (!previous)
        throw new ProjectionOperationError(
          'NO_PREVIOUS_VERSION',
          `${projection.name} has no previous version`,
        );
      const live = await loadCheckpoint(client, projection);
      const version = await client.query<{ version: number }>(
        'SELECT version FROM projections.checkpoints WHERE projection = $1',
        [projection.name],
      );
      // Live rows go to NEXT_SCHEMA for a moment, the previous ones become live, then the
      // replaced live rows become the previous version.
      await replaceLiveRows(client, tables, PREVIOUS_SCHEMA, NEXT_SCHEMA);
      await createEmptyCopies(client, tables, PREVIOUS_SCHEMA);
      for (const table of tablesIn(tables, NEXT_SCHEMA)) {
        const name = table.split('.')[1] ?? '';
        await client.query(
          `INSERT INTO "${PREVIOUS_SCHEMA}"."${name}" OVERRIDING SYSTEM VALUE SELECT * FROM "${NEXT_SCHEMA}"."${name}"`,
        );
      }
      await dropCopies(client, tables, NEXT_SCHEMA);
      await this.keepPrevious(
        client,
        projection,
        tables,
        version.rows[0]?.version ?? projection.version,
        live,
      );
      await this.setCheckpoint(client, projection, previous.version, {
        transactionId: BigInt(previous.transaction_id),
        position: BigInt(previous.position),
      });
    });
  }

  private async keepPrevious(
    client: PoolClient,
    projection: Projection,
    tables: readonly string[],
    version: number,
    checkpoint: GlobalCheckpoint,
  ): Promise<void> {
    await client.query(
      `INSERT INTO projections.previous_versions (projection, version, transaction_id, "position", tables, replaced_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (projection) DO UPDATE SET version = excluded.version,
         transaction_id = excluded.transaction_id, "position" = excluded."position",
         tables = excluded.tables, replaced_at = excluded.replaced_at`,
      [
        projection.name,
        version,
        checkpoint.transactionId.toString(),
        checkpoint.position.toString(),
        [...tables],
      ],
    );
  }

  /** The projection's one checkpoint from now on: segment rows go, segments start from it. */
  private async setCheckpoint(
    client: PoolClient,
    projection: Projection,
    version: number,
    checkpoint: GlobalCheckpoint,
  ): Promise<void> {
    await client.query(
      `DELETE FROM projections.checkpoints WHERE projection = $1 OR starts_with(projection, $1 || '#')`,
      [projection.name],
    );
    await client.query(
      `INSERT INTO projections.checkpoints (projection, version, transaction_id, position, updated_at)
       VALUES ($1, $2, $3, $4, now())`,
      [
        projection.name,
        version,
        checkpoint.transactionId.toString(),
        checkpoint.position.toString(),
      ],
    );
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
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
    indexes: 'set indexes aside' | 'keep indexes',
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
      // With the rows: a crash after this commit finds what to build again in the row.
      if (indexes === 'set indexes aside') {
        const setAside = await setAsideIndexes(
          client,
          projection,
          liveSchemaOf(tables),
          await this.missingIndexes(client, projection, tables, id),
        );
        if (setAside.length > 0)
          await client.query(
            'UPDATE projections.rebuilds SET set_aside_indexes = $2 WHERE id = $1',
            [id, JSON.stringify(setAside)],
          );
      }
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
      phase: row.phase,
      diff: row.diff,
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

/** `read_models` for `["read_models.customer_profiles", ...]`. */
function liveSchemaOf(tables: readonly string[]): string {
  return tables[0]?.split('.')[0] ?? '';
}
