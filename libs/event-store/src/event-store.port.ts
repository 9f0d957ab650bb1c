import type { GlobalCheckpoint } from './checkpoint';

/** JSON-compatible event payload, as stored. Avro-typed data is converted before it gets here. */
export type EventData = { readonly [key: string]: unknown };

/** Where an event came from and why; stored beside the event, never interpreted by the store. */
export interface EventMetadata {
  readonly correlationId?: string;
  readonly causationId?: string;
  /** Kafka coordinates of the message the recorder appended this event from. */
  readonly sourceTopic?: string;
  readonly sourcePartition?: number;
  readonly sourceOffset?: string;
  readonly [key: string]: unknown;
}

export interface NewEvent {
  /** Globally unique; appending the same id again stores nothing twice. */
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: EventData;
  readonly metadata?: EventMetadata;
}

export interface RecordedEvent extends NewEvent {
  readonly streamId: string;
  /** 0-based position of the event inside its stream. */
  readonly streamVersion: number;
  /** Position in the global log; gaps are possible (rolled back transactions). */
  readonly globalPosition: bigint;
  /** The writing transaction; (transactionId, globalPosition) is the global order. */
  readonly transactionId: bigint;
  readonly metadata: EventMetadata;
  readonly recordedAt: Date;
}

/**
 * Optimistic concurrency for one stream:
 * - 'any': no check;
 * - 'no_stream': the stream must not exist yet;
 * - 'stream_exists': the stream must have at least one event;
 * - a number: the version of the stream's last event must be exactly this (-1 = empty).
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

export interface AppendOptions {
  readonly expectedVersion?: ExpectedVersion;
}

export interface AppendResult {
  readonly streamId: string;
  /** Version of the stream's last event after the append (-1 for an empty stream). */
  readonly nextExpectedVersion: number;
  /** False when every event id was already stored (an idempotent repeat). */
  readonly appended: boolean;
}

/** One stream's share of a multi-stream ingest append. */
export interface StreamBatch {
  readonly streamId: string;
  readonly events: readonly NewEvent[];
}

export interface IngestResult {
  /** Events newly stored. */
  readonly stored: number;
  /** Events skipped because their id was already stored. */
  readonly duplicates: number;
}

export interface ReadStreamOptions {
  /** First stream version to return (default 0). */
  readonly fromVersion?: number;
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Return events strictly after this checkpoint (default: the beginning). */
  readonly after?: GlobalCheckpoint;
  readonly maxCount?: number;
}

export interface ReadAllResult {
  readonly events: readonly RecordedEvent[];
  /** Checkpoint to resume from: the last event returned, or `after` when none was. */
  readonly checkpoint: GlobalCheckpoint;
}

export interface SubscribeToAllOptions {
  readonly after?: GlobalCheckpoint;
  readonly batchSize?: number;
  /**
   * Called with each batch in global order. The subscription waits for it to settle before
   * reading further; a rejection stops the subscription and is reported through `done`.
   */
  readonly onBatch: (
    events: readonly RecordedEvent[],
    checkpoint: GlobalCheckpoint,
  ) => Promise<void>;
}

export interface Subscription {
  /** Stop after the batch in flight; resolves once stopped. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves after stop(), rejects with a handler error. */
  readonly done: Promise<void>;
}

/**
 * The event store port. Adapters (PostgreSQL, PGlite through PostgreSQL's protocol,
 * EventStoreDB) must pass the contract suite in `@touchline/event-store/testing`.
 */
export interface EventStore {
  /** Append to one stream in one transaction, checking the expected version. */
  appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult>;

  /**
   * Append many streams' events in one transaction with no version check, skipping events
   * whose id is already stored. The recorder's path: its input is at-least-once.
   */
  ingest(batches: readonly StreamBatch[]): Promise<IngestResult>;

  readStream(streamId: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]>;

  /** Read the global log in order. Never returns an event that a still-running transaction could precede. */
  readAll(options?: ReadAllOptions): Promise<ReadAllResult>;

  subscribeToAll(options: SubscribeToAllOptions): Subscription;

  /** Checkpoint of the newest event that readAll could return now. */
  head(): Promise<GlobalCheckpoint>;

  close(): Promise<void>;
}
