/** A message to publish. `key` keeps one identifier's messages in one partition, in order. */
export interface OutboundMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface InboundMessage {
  readonly topic: string;
  readonly partition: number;
  /** Offset as a decimal string (Kafka offsets are 64-bit). */
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: Date;
}

export interface MessagePublisher {
  /**
   * Resolves only once every message is durably accepted: acknowledged by all in-sync replicas
   * (Kafka) or handled by the consumer (in-process). Rejects with TransportUnavailableError when
   * that cannot be confirmed; then nothing may be reported as stored.
   */
  publish(messages: readonly OutboundMessage[]): Promise<void>;
}

/**
 * Handles a batch of one partition's messages, in offset order. Offsets are committed only after
 * the returned promise resolves; a rejection means the batch is delivered again (at-least-once:
 * the handler must be idempotent). Never called twice at once for one partition; batches of
 * different partitions may be handled concurrently.
 */
export type BatchHandler = (messages: readonly InboundMessage[]) => Promise<void>;

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Start from the earliest offset when the group has none committed (default true). */
  readonly fromBeginning?: boolean;
}

export interface MessageConsumer {
  /** Start consuming; resolves once the consumer has joined and is running. */
  start(handler: BatchHandler): Promise<void>;
  stop(): Promise<void>;
}

export interface Transport {
  /** Create the topics if missing (idempotent). */
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>;
  publisher(): MessagePublisher;
  consumer(options: ConsumerOptions): MessageConsumer;
  /** True when the broker answered recently; feeds readiness. */
  isHealthy(): Promise<boolean>;
  close(): Promise<void>;
}

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** Retention in milliseconds; undefined keeps the broker default. */
  readonly retentionMs?: number;
}

/**
 * The transport could not confirm the operation (broker away, no consumer running, consumer failed
 * to handle the message in-process): report "not stored" (503) and let the caller retry.
 */
export class TransportUnavailableError extends Error {
  readonly code = 'TRANSPORT_UNAVAILABLE';
  override readonly name = 'TransportUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
