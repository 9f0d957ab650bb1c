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

const MAX_BACKOFF_MS = 30_000;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Follows the store's global order and feeds one projection. An advisory lock makes this the only
 * projector of that projection: a second instance stands by and takes over when the first one's
 * connection goes away. Any failure (database away, a bug in apply) restarts the subscription from
 * the stored checkpoint after a backoff, so the projector comes back by itself.
 */
export class Projector {
  private subscription: Subscription | null = null;
  private lockClient: PoolClient | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private checkpoint: GlobalCheckpoint = START;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly projection: Projection,
    private readonly logger: Logger,
    private readonly batchSize = 1_000,
  ) {}

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
        if (!(await this.acquireLock())) {
          await sleep(1_000);
          continue;
        }
        this.checkpoint = await loadCheckpoint(this.pool, this.projection);
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
        await this.subscription.done;
      } catch (error) {
        if (this.stopped) break;
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

  private async acquireLock(): Promise<boolean> {
    if (this.lockClient) return true;
    const client = await this.pool.connect();
    const lockKey = `touchline:projection:${this.projection.name}`;
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
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await this.projection.apply(client, events);
      await client.query(
        `INSERT INTO projections.checkpoints (projection, version, transaction_id, position, updated_at)
         VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (projection) DO UPDATE SET version = excluded.version, transaction_id = excluded.transaction_id,
           position = excluded.position, updated_at = excluded.updated_at`,
        [
          this.projection.name,
          this.projection.version,
          checkpoint.transactionId.toString(),
          checkpoint.position.toString(),
        ],
      );
      await client.query('COMMIT');
      this.checkpoint = checkpoint;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.stop();
    await this.loop;
    // Closing the session releases the advisory lock.
    this.releaseLock(true);
  }
}
