import {
  type EventStore,
  formatCheckpoint,
  type GlobalCheckpoint,
  type RecordedEvent,
  START,
  type Subscription,
} from '@touchline/event-store';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { Projection } from './projection';

export async function loadCheckpoint(
  pool: Pool | PoolClient,
  projection: Projection,
): Promise<GlobalCheckpoint> {
  const result = await pool.query<{ transaction_id: string; position: string }>(
    'SELECT transaction_id, position FROM projections.checkpoints WHERE projection = $1',
    [projection.name],
  );
  const row = result.rows[0];
  return row
    ? { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) }
    : START;
}

/**
 * Apply one batch and store the checkpoint after it, in one transaction. The live projector and
 * a rebuild both go through here, so a rebuild gives exactly what the live projector gives.
 */
export async function applyBatchWithCheckpoint(
  pool: Pool,
  projection: Projection,
  events: readonly RecordedEvent[],
  checkpoint: GlobalCheckpoint,
): Promise<void> {
  const client = await pool.connect();
  try {
    // JIT compiling pays off for long analytic queries, never for a projector's short batch
    // statements; on fresh tables without statistics it cost most of each batch (benchmarks.md).
    await client.query('BEGIN; SET LOCAL jit = off');
    await projection.apply(client, events);
    await client.query(
      `INSERT INTO projections.checkpoints (projection, version, transaction_id, position, updated_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (projection) DO UPDATE SET version = excluded.version, transaction_id = excluded.transaction_id,
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

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    readonly projection: Projection,
    private readonly logger: Logger,
    options: { batchSize?: number; control?: ProjectorControl } = {},
  ) {
    this.batchSize = options.batchSize ?? 1_000;
    this.control = options.control ?? NEVER_YIELD;
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
        this.checkpoint = await loadCheckpoint(this.pool, this.projection);
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
        if (this.yielding || this.paused) {
          this.yielding = false;
          this.unlock();
          this.state = 'yielded';
          this.logger.info(
            { projection: this.projection.name, checkpoint: formatCheckpoint(this.checkpoint) },
            'projector stepped aside for a rebuild',
          );
        }
      } catch (error) {
        if (this.stopped) break;
        this.state = 'failing';
        this.lastErrorCode = errorCode(error);
        this.logger.error(
          { err: error, projection: this.projection.name, retryInMs: backoff },
          'projector failed; restarting',
        );
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
    void client
      .query('SELECT pg_advisory_unlock(hashtext($1))', [projectionLockKey(this.projection)])
      .catch(() => undefined)
      .finally(() => client.release(true));
  }

  private async acquireLock(): Promise<boolean> {
    if (this.lockClient) return true;
    const client = await this.pool.connect();
    const lockKey = projectionLockKey(this.projection);
    const result = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
      [lockKey],
    );
    if (!result.rows[0]?.locked) {
      client.release();
      return false;
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
    await applyBatchWithCheckpoint(this.pool, this.projection, events, checkpoint);
    this.checkpoint = checkpoint;
    this.lastAppliedAt = new Date();
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
