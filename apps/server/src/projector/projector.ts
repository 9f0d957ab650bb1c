import {
  compareCheckpoints,
  type EventStore,
  formatCheckpoint,
  type GlobalCheckpoint,
  type RecordedEvent,
  START,
  type Subscription,
} from '@touchline/event-store';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { ConcurrentWriteError, type Projection } from './projection';
import { parseSegmentName, ProjectionSegment } from './segments';

interface CheckpointRowOfLayout {
  readonly name: string;
  readonly checkpoint: GlobalCheckpoint;
  readonly segment: { index: number; count: number } | null;
}

/** The projection's own checkpoint row and every segment row it has (any segment count). */
async function checkpointRows(
  pool: Pool | PoolClient,
  projection: string,
): Promise<CheckpointRowOfLayout[]> {
  const result = await pool.query<{ projection: string; transaction_id: string; position: string }>(
    `SELECT projection, transaction_id, position FROM projections.checkpoints
      WHERE projection = $1 OR starts_with(projection, $1 || '#')`,
    [projection],
  );
  const rows: CheckpointRowOfLayout[] = [];
  for (const row of result.rows) {
    const segment = parseSegmentName(row.projection);
    if (row.projection !== projection && segment?.projection !== projection) continue;
    rows.push({
      name: row.projection,
      checkpoint: { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) },
      segment: segment && { index: segment.index, count: segment.count },
    });
  }
  return rows;
}

/** Refused: the stored checkpoints are of another segment layout than this process runs. */
export class SegmentLayoutError extends Error {
  override readonly name = 'SegmentLayoutError';
  readonly code = 'SEGMENT_LAYOUT_MISMATCH';
}

const minCheckpoint = (a: GlobalCheckpoint, b: GlobalCheckpoint) =>
  compareCheckpoints(a, b) <= 0 ? a : b;

/**
 * How far a projection is, as a whole: its checkpoint, or when it runs as segments the slowest
 * segment's (a segment without a row yet is still at the projection's own row).
 */
export async function loadCheckpoint(
  pool: Pool | PoolClient,
  projection: Projection | string,
): Promise<GlobalCheckpoint> {
  const name = typeof projection === 'string' ? projection : projection.name;
  const rows = await checkpointRows(pool, name);
  const own = rows.find((row) => row.segment === null)?.checkpoint ?? START;
  const segments = rows.filter((row) => row.segment !== null);
  if (segments.length === 0) return own;
  const count = Math.max(...segments.map((row) => row.segment?.count ?? 0));
  let slowest = segments.length < count ? own : (segments[0]?.checkpoint ?? own);
  for (const row of segments) slowest = minCheckpoint(slowest, row.checkpoint);
  return slowest;
}

/** Whether the projection has checkpoints kept by segments (it runs, or ran, split). */
export async function hasSegmentCheckpoints(
  pool: Pool | PoolClient,
  projection: string,
): Promise<boolean> {
  return (await checkpointRows(pool, projection)).some((row) => row.segment !== null);
}

/**
 * Where this projector continues. A segment continues from its own row, or from the
 * projection's row when it has none yet (the projection ran unsplit, or a rebuild just finished).
 * Mixing layouts would apply events twice or never, so a row of another layout is refused.
 */
async function loadProjectorCheckpoint(
  pool: Pool,
  projection: Projection,
): Promise<GlobalCheckpoint> {
  const segment = projection instanceof ProjectionSegment ? projection : null;
  const baseName = segment ? segment.base.name : projection.name;
  const rows = await checkpointRows(pool, baseName);
  const foreign = rows.find(
    (row) => row.segment !== null && (segment === null || row.segment.count !== segment.count),
  );
  if (foreign?.segment) {
    throw new SegmentLayoutError(
      `${baseName} has checkpoints for ${String(foreign.segment.count)} segments but this process runs it as ${String(segment?.count ?? 1)}: ` +
        'give every process the same TOUCHLINE_PROJECTION_SEGMENTS, or rebuild the projection to change the split',
    );
  }
  const own = rows.find((row) => row.name === projection.name);
  const base = rows.find((row) => row.segment === null);
  return own?.checkpoint ?? base?.checkpoint ?? START;
}

/**
 * Apply one batch and store the checkpoint after it, in one transaction. The row's version is
 * the version that built the rows from position zero (set by the first batch, or by a blue/green
 * switch), not the running code's: a newer code version shows as a mismatch to rebuild. The live projector and
 * a rebuild both go through here, so a rebuild gives exactly what the live projector gives.
 */
export async function applyBatchWithCheckpoint(
  pool: Pool,
  projection: Projection,
  events: readonly RecordedEvent[],
  checkpoint: GlobalCheckpoint,
): Promise<void> {
  await (
    await beginBatchWithCheckpoint(pool, projection, events, checkpoint)
  ).committed;
}

/**
 * applyBatchWithCheckpoint in two steps, for a replay that overlaps its batches: resolves once
 * the batch is handed over, with `locked` settling when it holds what orders it before the next
 * batch (begin that one only after) and `committed` when its transaction has. `after`: the
 * commit of the batch before, which this one waits for and rolls back without, so a batch never
 * commits over a gap. Only a projection with `applyQueued` hands over before its writes are done
 * (see Projection); for any other, both are settled when this resolves, so batches never overlap.
 */
export async function beginBatchWithCheckpoint(
  pool: Pool,
  projection: Projection,
  events: readonly RecordedEvent[],
  checkpoint: GlobalCheckpoint,
  after: Promise<void> = Promise.resolve(),
): Promise<{ locked: Promise<void>; committed: Promise<void> }> {
  const client = await pool.connect();
  const commit = async (written: Promise<void>): Promise<void> => {
    try {
      await written;
      await after;
      await client.query(
        `INSERT INTO projections.checkpoints (projection, version, transaction_id, position, updated_at)
         VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (projection) DO UPDATE SET transaction_id = excluded.transaction_id,
           position = excluded.position, updated_at = excluded.updated_at`,
        [
          projection.name,
          projection.version,
          checkpoint.transactionId.toString(),
          checkpoint.position.toString(),
        ],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  let written: Promise<void>;
  let locked: Promise<void> = Promise.resolve();
  try {
    // JIT compiling pays off for long analytic queries, never for a projector's short batch
    // statements; on fresh tables without statistics it cost most of each batch (benchmarks.md).
    await client.query('BEGIN; SET LOCAL jit = off');
    if (projection.applyQueued) {
      ({ locked, written } = await projection.applyQueued(client, events, after));
    } else {
      written = projection.apply(client, events);
    }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
    throw error;
  }
  const committed = commit(written);
  if (!projection.applyQueued) await committed;
  committed.catch(() => undefined);
  return { locked, committed };
}

/** The advisory lock that makes one session the only writer of a projection. */
export function projectionLockKey(projection: Projection | string): string {
  return `touchline:projection:${typeof projection === 'string' ? projection : projection.name}`;
}

/** Asked before taking the lock and about once a second while running: step aside? */
export interface ProjectorControl {
  shouldYield(projection: string): Promise<boolean>;
}

const NEVER_YIELD: ProjectorControl = { shouldYield: () => Promise.resolve(false) };

export type ProjectorState =
  'starting' | 'running' | 'standing-by' | 'yielded' | 'failing' | 'stopped';

export interface ProjectorStatus {
  readonly state: ProjectorState;
  /** The error code (or class name) of the last failure while failing, else null. */
  readonly lastErrorCode: string | null;
  readonly lastAppliedAt: Date | null;
}

const MAX_BACKOFF_MS = 30_000;
/**
 * Batches in a row that a projector far behind the head applies through applyCatchingUp (the
 * profile recomputes deferred, as a rebuild does) before one plain apply brings the derived rows
 * up to date: a backlog is worked off faster, and the profiles served are never more than this
 * many batches older than the checkpoint (docs/operations.md, "Catching up").
 */
export const MAX_DEFERRED_BATCHES = 10;
const YIELD_CHECK_MS = 1_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Follows the store's global order and feeds one projection. An advisory lock makes this the only
 * projector of that projection: a second instance stands by and takes over when the first one's
 * connection goes away. Any failure (database away, a bug in apply) restarts the subscription from
 * the stored checkpoint after a backoff, so the projector comes back by itself. A rebuild asks it to
 * step aside through `control`: it stops after its current batch, releases the lock and waits.
 */
export class Projector {
  private subscription: Subscription | null = null;
  private lockClient: PoolClient | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private checkpoint: GlobalCheckpoint = START;
  private state: ProjectorState = 'starting';
  private lastErrorCode: string | null = null;
  private lastAppliedAt: Date | null = null;
  private yielding = false;
  private paused = false;
  private readonly batchSize: number;
  private readonly control: ProjectorControl;
  /**
   * The projection applying through applyCatchingUp (and applyCatchingUpQueued where it has it,
   * so batches overlap as in a rebuild); null when it has none.
   */
  private readonly catchingUpProjection: Projection | null;
  /** Batches applied through catchingUpProjection since the last plain apply. */
  private deferredBatches = 0;
  /** A batch handed over whose commit is still running: the next one commits only after it. */
  private inFlight: { committed: Promise<void>; checkpoint: GlobalCheckpoint } | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    readonly projection: Projection,
    private readonly logger: Logger,
    options: { batchSize?: number; control?: ProjectorControl } = {},
  ) {
    this.batchSize = options.batchSize ?? projection.batchSize ?? 1_000;
    this.control = options.control ?? NEVER_YIELD;
    const applyCatchingUp = projection.applyCatchingUp?.bind(projection);
    const applyQueued = projection.applyCatchingUpQueued?.bind(projection);
    this.catchingUpProjection = applyCatchingUp
      ? {
          name: projection.name,
          version: projection.version,
          apply: applyCatchingUp,
          ...(applyQueued ? { applyQueued } : {}),
        }
      : null;
  }

  get status(): ProjectorStatus {
    return {
      state: this.state,
      lastErrorCode: this.lastErrorCode,
      lastAppliedAt: this.lastAppliedAt,
    };
  }

  /** The checkpoint of the last committed batch. */
  get position(): GlobalCheckpoint {
    return this.checkpoint;
  }

  start(): void {
    this.loop ??= this.supervise();
  }

  private async supervise(): Promise<void> {
    let backoff = 500;
    while (!this.stopped) {
      try {
        if (this.paused || (await this.control.shouldYield(this.projection.name))) {
          this.state = 'yielded';
          await sleep(this.paused ? 100 : YIELD_CHECK_MS);
          continue;
        }
        if (!(await this.acquireLock())) {
          this.state = 'standing-by';
          await sleep(1_000);
          continue;
        }
        // Paused while taking the lock. From here to the subscription, `pause` sees 'running'.
        if (this.paused) {
          this.unlock();
          continue;
        }
        this.state = 'running';
        this.checkpoint = await loadProjectorCheckpoint(this.pool, this.projection);
        // A rebuild that was cancelled or died may have left deferred work (profile recomputes):
        // one apply of no events completes it before anything new is applied.
        if (this.projection.applyCatchingUp && this.checkpoint !== START)
          await applyBatchWithCheckpoint(this.pool, this.projection, [], this.checkpoint);
        this.lastErrorCode = null;
        this.logger.info(
          { projection: this.projection.name, checkpoint: formatCheckpoint(this.checkpoint) },
          'projector running',
        );
        this.subscription = this.store.subscribeToAll({
          after: this.checkpoint,
          batchSize: this.batchSize,
          onBatch: async (events, checkpoint) => {
            await this.applyBatch(events, checkpoint);
            backoff = 500;
          },
        });
        if (this.paused) await this.subscription.stop();
        await this.watchForYield(this.subscription);
        // The subscription ended (stop, pause, yield): the last batch commits before the lock goes.
        await this.settleInFlight();
        if (this.yielding || this.paused) {
          this.yielding = false;
          this.unlock();
          this.state = 'yielded';
          this.logger.info(
            { projection: this.projection.name, checkpoint: formatCheckpoint(this.checkpoint) },
            'projector stepped aside (a rebuild, or segments rebalancing)',
          );
        }
      } catch (error) {
        // A batch still committing ends either way before the lock goes (it may have failed
        // because the one before it did): the restart continues from the stored checkpoint.
        await this.inFlight?.committed.catch(() => undefined);
        this.inFlight = null;
        if (this.stopped) break;
        this.state = 'failing';
        this.lastErrorCode = errorCode(error);
        if (error instanceof ConcurrentWriteError) {
          // Expected now and then (an unmerge from another process while catching up): the
          // restart reads the state from the tables.
          this.logger.warn(
            { err: error, projection: this.projection.name, retryInMs: backoff },
            'another writer changed the projection under a batch; restarting from the checkpoint',
          );
        } else {
          this.logger.error(
            { err: error, projection: this.projection.name, retryInMs: backoff },
            'projector failed; restarting',
          );
        }
        this.releaseLock(true);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /**
   * Step aside in this process (a rebuild here is about to run): resolves once no batch of this
   * projector is in flight and its lock is given back. Other processes' projectors follow
   * `control` instead; embedded PGlite shares one session, so its lock alone would not do.
   */
  async pause(): Promise<void> {
    this.paused = true;
    await this.subscription?.stop();
    while (this.state === 'running') await sleep(20);
  }

  resume(): void {
    this.paused = false;
  }

  /** Wait for the subscription to end, stopping it when the control asks this projector to yield. */
  private async watchForYield(subscription: Subscription): Promise<void> {
    let checking = false;
    const timer = setInterval(() => {
      if (checking || this.yielding) return;
      checking = true;
      void this.control
        .shouldYield(this.projection.name)
        .catch(() => false)
        .then(async (yieldNow) => {
          if (!yieldNow || this.stopped) return;
          this.yielding = true;
          await subscription.stop();
        })
        .finally(() => {
          checking = false;
        });
    }, YIELD_CHECK_MS);
    try {
      await subscription.done;
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Give the lock back now (a rebuild is waiting for it). Unlocked explicitly, not only by closing
   * the session: embedded PGlite serves every connection from one session.
   */
  private unlock(): void {
    const client = this.lockClient;
    this.lockClient = null;
    if (!client) return;
    const { exclusive, shared } = this.lockKeys();
    void client
      .query(
        shared === null
          ? 'SELECT pg_advisory_unlock(hashtext($1))'
          : 'SELECT pg_advisory_unlock(hashtext($1)), pg_advisory_unlock_shared(hashtext($2))',
        shared === null ? [exclusive] : [exclusive, shared],
      )
      .catch(() => undefined)
      .finally(() => client.release(true));
  }

  /**
   * A projection's lock is exclusive. A segment holds its own lock exclusively and the
   * projection's lock shared: segments run side by side, while a rebuild (or a process running the
   * projection unsplit) needs the projection's lock exclusively and so waits for all of them.
   */
  private lockKeys(): { exclusive: string; shared: string | null } {
    const projection = this.projection;
    return projection instanceof ProjectionSegment
      ? { exclusive: projectionLockKey(projection), shared: projectionLockKey(projection.base) }
      : { exclusive: projectionLockKey(projection), shared: null };
  }

  private async acquireLock(): Promise<boolean> {
    if (this.lockClient) return true;
    const client = await this.pool.connect();
    const { exclusive, shared } = this.lockKeys();
    try {
      if (shared !== null) {
        const base = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock_shared(hashtext($1)) AS locked',
          [shared],
        );
        if (!base.rows[0]?.locked) {
          client.release();
          return false;
        }
      }
      const result = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [exclusive],
      );
      if (!result.rows[0]?.locked) {
        // Close the session so the shared lock goes with it: a pooled session must not keep it.
        client.release(shared !== null);
        return false;
      }
    } catch (error) {
      client.release(true);
      throw error;
    }
    // A dropped connection releases the lock on the server; never reuse this client after an error.
    client.on('error', () => undefined);
    this.lockClient = client;
    return true;
  }

  private releaseLock(destroy: boolean): void {
    this.lockClient?.release(destroy);
    this.lockClient = null;
  }

  private async applyBatch(
    events: readonly RecordedEvent[],
    checkpoint: GlobalCheckpoint,
  ): Promise<void> {
    const catchingUp =
      this.catchingUpProjection !== null &&
      this.deferredBatches < MAX_DEFERRED_BATCHES &&
      (await this.farBehind(checkpoint))
        ? this.catchingUpProjection
        : null;
    if (catchingUp?.applyQueued) {
      // Handed over once computed and queued; the next batch is computed while this one
      // commits (it waits for this commit, and rolls back if it fails), as a rebuild does.
      const previous = this.inFlight;
      const { locked, committed } = await beginBatchWithCheckpoint(
        this.pool,
        catchingUp,
        events,
        checkpoint,
        previous?.committed,
      );
      this.inFlight = { committed, checkpoint };
      this.deferredBatches += 1;
      if (previous) await this.settle(previous);
      await locked;
      return;
    }
    await this.settleInFlight();
    await applyBatchWithCheckpoint(this.pool, catchingUp ?? this.projection, events, checkpoint);
    this.deferredBatches = catchingUp ? this.deferredBatches + 1 : 0;
    this.checkpoint = checkpoint;
    this.lastAppliedAt = new Date();
  }

  /** Wait for the batch in flight, if any, to commit; its checkpoint is then this projector's. */
  private async settleInFlight(): Promise<void> {
    if (this.inFlight) await this.settle(this.inFlight);
  }

  private async settle(batch: { committed: Promise<void>; checkpoint: GlobalCheckpoint }) {
    try {
      await batch.committed;
    } finally {
      if (this.inFlight === batch) this.inFlight = null;
    }
    this.checkpoint = batch.checkpoint;
    this.lastAppliedAt = new Date();
  }

  /**
   * At least a batch of events after `checkpoint` is stored: another batch is sure to follow this
   * one, and its plain apply (at the latest the MAX_DEFERRED_BATCHES-th) completes what this
   * one defers.
   */
  private async farBehind(checkpoint: GlobalCheckpoint): Promise<boolean> {
    const head = await this.store.head();
    return (
      compareCheckpoints(head, checkpoint) > 0 &&
      head.position - checkpoint.position >= BigInt(this.batchSize)
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.stop();
    await this.loop;
    // Closing the session releases the advisory lock.
    this.releaseLock(true);
    this.state = 'stopped';
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) return code;
  return error instanceof Error ? error.constructor.name : 'UNKNOWN';
}
