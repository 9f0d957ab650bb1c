import {
  PollingSubscription,
  InvalidAppendError,
  START,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type GlobalCheckpoint,
  type IngestResult,
  type NewEvent,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamBatch,
  type SubscribeToAllOptions,
  type Subscription,
} from '@touchline/event-store';
import { createPool, isConnectionError, type CreatePoolOptions } from '@touchline/platform';
import type { Pool, PoolClient } from 'pg';
import { appendValidated, validateAppendOrThrow } from './append';
import { type PageReader, readingAhead } from './read-ahead';
import { isRetryableConflict, isUniqueViolation, toEventStoreError } from './pg-errors';
import { ingestEventsSql } from './sql/ingest-events.sql';
import { lockStreamsSql } from './sql/lock-streams.sql';
import {
  readAllSql,
  readHeadSql,
  readStreamSql,
  type EventRow,
  type HeadRow,
} from './sql/read-events.sql';

export interface PostgresEventStoreOptions {
  readonly pool: Pool;
  /** End the pool on close(). Default false: whoever created the pool ends it. */
  readonly endPoolOnClose?: boolean;
  /** Subscriptions poll this often once caught up (default 100 ms). */
  readonly pollIntervalMs?: number;
  /** Attempts for an ingest that collides with a concurrent one on an event id (default 5). */
  readonly maxIngestAttempts?: number;
  /**
   * Subscriptions read the next page while the subscriber applies a full one (default true):
   * a projector catching up keeps PostgreSQL busy on both (read-ahead.ts).
   */
  readonly readAhead?: boolean;
}

/**
 * The EventStore port over PostgreSQL (or PGlite through its socket server). Run
 * `eventStoreMigrationSet` with runMigrations before use.
 */
export class PostgresEventStore implements EventStore {
  private readonly pool: Pool;
  private readonly subscriptions = new Set<PollingSubscription>();
  private closed = false;

  constructor(private readonly options: PostgresEventStoreOptions) {
    this.pool = options.pool;
  }

  /** A store with its own pool, ended by close(). */
  static connect(
    url: string,
    options: Omit<PostgresEventStoreOptions, 'pool' | 'endPoolOnClose'> & {
      pool?: CreatePoolOptions;
    } = {},
  ): PostgresEventStore {
    return new PostgresEventStore({
      ...options,
      pool: createPool(url, { applicationName: 'touchline-event-store', ...options.pool }),
      endPoolOnClose: true,
    });
  }

  async appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    validateAppendOrThrow(streamId, events, options);
    const expected = options.expectedVersion ?? 'any';
    // A concurrent append of one of these ids to another stream surfaces as a unique
    // violation; the second attempt then sees it stored and answers with a typed error.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.inTransaction((client) =>
          appendValidated(client, streamId, events, expected),
        );
      } catch (error) {
        if (attempt < 2 && isUniqueViolation(error)) continue;
        throw toEventStoreError(error);
      }
    }
  }

  async ingest(batches: readonly StreamBatch[]): Promise<IngestResult> {
    const rows = flattenOrThrow(batches);
    if (rows.eventIds.length === 0) return { stored: 0, duplicates: rows.total };
    const maxAttempts = this.options.maxIngestAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        const stored = await this.inTransaction(async (client) => {
          await client.query(lockStreamsSql, [[...new Set(rows.streamIds)]]);
          const result = await client.query<{ stored: number }>(ingestEventsSql, [
            rows.streamIds,
            rows.eventIds,
            rows.types,
            rows.schemaVersions,
            rows.data,
            rows.metadata,
          ]);
          return result.rows[0]!.stored;
        });
        return { stored, duplicates: rows.total - stored };
      } catch (error) {
        if (attempt < maxAttempts && isRetryableConflict(error)) {
          await sleep(5 * attempt + Math.random() * 10);
          continue;
        }
        throw toEventStoreError(error);
      }
    }
  }

  async readStream(
    streamId: string,
    options: ReadStreamOptions = {},
  ): Promise<readonly RecordedEvent[]> {
    const rows = await this.query<EventRow>(readStreamSql, [
      streamId,
      options.fromVersion ?? 0,
      limitOrThrow(options.maxCount),
    ]);
    return rows.map(toRecordedEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const after = options.after ?? START;
    const rows = await this.query<EventRow>(readAllSql, [
      after.transactionId.toString(),
      after.position.toString(),
      limitOrThrow(options.maxCount),
    ]);
    const events = rows.map(toRecordedEvent);
    const last = events[events.length - 1];
    return {
      events,
      checkpoint: last
        ? { transactionId: last.transactionId, position: last.globalPosition }
        : after,
    };
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    if (this.closed) throw new Error('The event store is closed');
    const read: PageReader = (after, maxCount) => this.readAll({ after, maxCount });
    const subscription = new PollingSubscription(
      this.options.readAhead === false ? read : readingAhead(read),
      options,
      { idleMs: this.options.pollIntervalMs ?? 100, maxRetryMs: 5_000 },
    );
    this.subscriptions.add(subscription);
    void subscription.done
      .catch(() => undefined)
      .finally(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async head(): Promise<GlobalCheckpoint> {
    const [row] = await this.query<HeadRow>(readHeadSql, []);
    return row
      ? { transactionId: BigInt(row.transaction_id_text), position: BigInt(row.global_position) }
      : START;
  }

  /** Stops this store's subscriptions; ends the pool only when the store created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    if (this.options.endPoolOnClose) await this.pool.end();
  }

  private async query<Row extends object>(sql: string, params: unknown[]): Promise<Row[]> {
    try {
      const result = await this.pool.query<Row>(sql, params);
      return result.rows;
    } catch (error) {
      throw toEventStoreError(error);
    }
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (isConnectionError(error)) {
        broken = error instanceof Error ? error : new Error(String(error));
      } else {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken =
            rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
      }
      throw error;
    } finally {
      // A broken connection is destroyed instead of going back to the pool.
      client.release(broken);
    }
  }
}

interface IngestRows {
  readonly total: number;
  readonly streamIds: string[];
  readonly eventIds: string[];
  readonly types: string[];
  readonly schemaVersions: number[];
  readonly data: string[];
  readonly metadata: string[];
}

/** Column arrays for unnest; an id repeated inside the batch is kept once (first wins). */
function flattenOrThrow(batches: readonly StreamBatch[]): IngestRows {
  const rows: IngestRows = {
    total: 0,
    streamIds: [],
    eventIds: [],
    types: [],
    schemaVersions: [],
    data: [],
    metadata: [],
  };
  const seen = new Set<string>();
  let total = 0;
  for (const batch of batches) {
    if (!batch.streamId) throw new InvalidAppendError('Stream id must not be empty');
    for (const event of batch.events) {
      total++;
      if (!event.eventId)
        throw new InvalidAppendError(`Ingest into "${batch.streamId}" has an event without id`);
      if (seen.has(event.eventId)) continue;
      seen.add(event.eventId);
      rows.streamIds.push(batch.streamId);
      rows.eventIds.push(event.eventId);
      rows.types.push(event.type);
      rows.schemaVersions.push(event.schemaVersion);
      rows.data.push(JSON.stringify(event.data));
      rows.metadata.push(JSON.stringify(event.metadata ?? {}));
    }
  }
  return { ...rows, total };
}

function limitOrThrow(maxCount: number | undefined): number | null {
  if (maxCount === undefined) return null; // LIMIT NULL: everything
  if (!Number.isInteger(maxCount) || maxCount < 0) {
    throw new InvalidAppendError(`maxCount ${maxCount} must be a non-negative integer`);
  }
  return maxCount;
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    globalPosition: BigInt(row.global_position),
    transactionId: BigInt(row.transaction_id_text),
    recordedAt: row.recorded_at,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
