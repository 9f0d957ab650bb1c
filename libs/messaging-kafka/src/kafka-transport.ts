import {
  TransportUnavailableError,
  type BatchHandler,
  type ConsumerOptions,
  type InboundMessage,
  type MessageConsumer,
  type MessagePublisher,
  type OutboundMessage,
  type TopicSpec,
  type Transport,
} from '@touchline/messaging';
import {
  Kafka,
  Partitioners,
  logLevel as KafkaJsLogLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type KafkaMessage,
  type LogEntry,
  type Producer,
} from 'kafkajs';

export interface KafkaTransportLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type KafkaLogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface KafkaTransportOptions {
  /** Bootstrap brokers, `host:port` (use 127.0.0.1 rather than localhost). */
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Receives kafkajs's own log entries and the consumers' retry notes; never message payloads. */
  readonly logger?: KafkaTransportLogger;
  /** Lowest kafkajs level passed to the logger (default 'error'). */
  readonly logLevel?: KafkaLogLevel;
  /** Timeout of one broker request, and of the acknowledgement of a produce (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** TCP connect timeout (default 1000 ms). */
  readonly connectionTimeoutMs?: number;
  /** Upper bound of one publish, retries included; past it the publish rejects (default 10000 ms). */
  readonly publishTimeoutMs?: number;
  /** Consumer group session timeout (default 30000 ms; the broker accepts 6000 and up). */
  readonly sessionTimeoutMs?: number;
  /** Consumer group heartbeat interval (default 3000 ms); a new member joins within about one. */
  readonly heartbeatIntervalMs?: number;
  /** Longest wait of a consumer's fetch for new messages (default 500 ms). */
  readonly maxWaitTimeMs?: number;
  /** Partitions one consumer hands to its handler at once (default 3). */
  readonly partitionsConsumedConcurrently?: number;
  /** First delay before a rejected batch is handled again; doubles up to maxRetryDelayMs (default 200). */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** How long consumer start() waits to join its group (default 30000 ms). */
  readonly joinTimeoutMs?: number;
}

interface Settings {
  readonly requestTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxWaitTimeMs: number;
  readonly partitionsConsumedConcurrently: number;
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  readonly joinTimeoutMs: number;
}

const errorLevel: number = KafkaJsLogLevel.ERROR;
const warnLevel: number = KafkaJsLogLevel.WARN;

const silentLogger: KafkaTransportLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Transport over Apache Kafka (kafkajs).
 *
 * Publishing: an idempotent producer (acks from all in-sync replicas, one request in flight, so
 * retries cannot reorder a partition), murmur2 keyed partitioning (a key stays in one partition,
 * the same one the in-process transport picks). A publish resolves only when the broker
 * acknowledged every message and rejects with TransportUnavailableError within
 * `publishTimeoutMs` otherwise. After a failed publish the producer is replaced: kafkajs limits
 * retries here, and a fresh producer id keeps a later batch from reusing the sequence numbers of
 * one the broker may have stored (it would be dropped as a duplicate while reported as sent).
 * Connects lazily and reconnects by itself once the broker is back.
 *
 * Consuming: consumer groups with manual commits. A batch's offset is committed only after the
 * handler resolved; a rejected batch is handled again (with backoff, same member) until it
 * succeeds, the member stops, or the group rebalances: in every case nothing is committed, so the
 * batch is delivered again (at-least-once; handlers are idempotent).
 */
/** A send carries at most this much, so a partition's record batch stays under the broker's 1 MB default. */
const MAX_GROUP_BYTES = 768 * 1024;
const MAX_GROUP_MESSAGES = 5_000;

interface PendingPublish {
  readonly messages: readonly OutboundMessage[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class KafkaTransport implements Transport {
  private readonly waiting: PendingPublish[] = [];
  private sending = false;
  private readonly kafka: Kafka;
  private readonly logger: KafkaTransportLogger;
  private readonly settings: Settings;
  private readonly logLevel: KafkaJsLogLevel;
  private readonly consumers = new Set<KafkaConsumer>();
  private producer: Promise<Producer> | undefined;
  private admin: Promise<Admin> | undefined;
  private closed = false;

  constructor(options: KafkaTransportOptions) {
    if (options.brokers.length === 0)
      throw new RangeError('KafkaTransport needs at least one broker');
    this.logger = options.logger ?? silentLogger;
    this.logLevel = options.logger
      ? kafkaJsLevel(options.logLevel ?? 'error')
      : KafkaJsLogLevel.NOTHING;
    const requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.settings = {
      requestTimeoutMs,
      publishTimeoutMs: options.publishTimeoutMs ?? 10_000,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 30_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 3000,
      maxWaitTimeMs: options.maxWaitTimeMs ?? 500,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
      retryDelayMs: options.retryDelayMs ?? 200,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
      joinTimeoutMs: options.joinTimeoutMs ?? 30_000,
    };
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      connectionTimeout: options.connectionTimeoutMs ?? 1000,
      requestTimeout: requestTimeoutMs,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
      logLevel: this.logLevel,
      logCreator: () => (entry) => this.log(entry),
    });
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    if (topics.length === 0) return;
    try {
      await this.withAdmin(async (admin) => {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((topic) => !existing.has(topic.name));
        if (missing.length === 0) return;
        // Another instance may create the same topics at once: "already exists" counts as success.
        await admin.createTopics({
          waitForLeaders: true,
          timeout: this.settings.requestTimeoutMs * 2,
          topics: missing.map((topic) => ({
            topic: topic.name,
            numPartitions: topic.partitions,
            configEntries:
              topic.retentionMs === undefined
                ? []
                : [{ name: 'retention.ms', value: String(topic.retentionMs) }],
          })),
        });
      });
    } catch (error) {
      throw unavailable('Could not create the Kafka topics', error);
    }
  }

  publisher(): MessagePublisher {
    return { publish: (messages) => this.publish(messages) };
  }

  consumer(options: ConsumerOptions): MessageConsumer {
    if (this.closed) throw new TransportUnavailableError('The Kafka transport is closed');
    const consumer = new KafkaConsumer(this.kafka, options, this.settings, this.logger, (c) =>
      this.consumers.delete(c),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  async isHealthy(): Promise<boolean> {
    if (this.closed) return false;
    const timeoutMs = Math.min(this.settings.requestTimeoutMs, 2000);
    try {
      await withTimeout(
        this.withAdmin((admin) => admin.describeCluster()),
        timeoutMs * 2,
        'describeCluster',
      );
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((consumer) => consumer.stop()));
    const producer = this.producer;
    const admin = this.admin;
    this.producer = undefined;
    this.admin = undefined;
    await Promise.allSettled([
      producer?.then((p) => p.disconnect()),
      admin?.then((a) => a.disconnect()),
    ]);
  }

  /**
   * Group commit: publishes that arrive while a send is in flight wait and go out together in the
   * next send, so many small HTTP requests cost one broker round trip (the producer allows one
   * request in flight, which idempotence needs). Every caller still waits for the acknowledgement
   * that covers its own messages, and a failed send fails every caller in its group.
   */
  private publish(messages: readonly OutboundMessage[]): Promise<void> {
    if (this.closed)
      return Promise.reject(new TransportUnavailableError('The Kafka transport is closed'));
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ messages, resolve, reject });
      if (!this.sending) void this.sendWaiting();
    });
  }

  private async sendWaiting(): Promise<void> {
    this.sending = true;
    try {
      while (this.waiting.length > 0) {
        const group = this.takeGroup();
        const messages = group.flatMap((publish) => publish.messages);
        try {
          await this.send(messages);
          for (const publish of group) publish.resolve();
        } catch (error) {
          for (const publish of group) publish.reject(error);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  /** The waiting publishes that fit in one send (at least one, however large). */
  private takeGroup(): PendingPublish[] {
    const group: PendingPublish[] = [];
    let bytes = 0;
    let count = 0;
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      const size = next.messages.reduce((sum, m) => sum + m.value.length + m.key.length, 0);
      if (
        group.length > 0 &&
        (bytes + size > MAX_GROUP_BYTES || count + next.messages.length > MAX_GROUP_MESSAGES)
      )
        break;
      group.push(this.waiting.shift()!);
      bytes += size;
      count += next.messages.length;
    }
    return group;
  }

  private async send(messages: readonly OutboundMessage[]): Promise<void> {
    if (this.closed) throw new TransportUnavailableError('The Kafka transport is closed');
    const byTopic = new Map<
      string,
      { key: string; value: Buffer; headers: Record<string, string> }[]
    >();
    for (const message of messages) {
      const list = byTopic.get(message.topic) ?? [];
      list.push({ key: message.key, value: message.value, headers: { ...message.headers } });
      byTopic.set(message.topic, list);
    }

    const connecting = this.connectedProducer();
    const sending = connecting.then((producer) =>
      producer.sendBatch({
        acks: -1,
        timeout: this.settings.requestTimeoutMs,
        topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
      }),
    );
    try {
      await withTimeout(sending, this.settings.publishTimeoutMs, 'publish');
    } catch (error) {
      // The messages may or may not be stored: report failure, start over with a new producer id.
      this.resetProducer(connecting);
      throw unavailable(`Kafka did not acknowledge ${messages.length} message(s)`, error);
    }
  }

  private connectedProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      const connecting = producer.connect().then(() => producer);
      this.producer = connecting;
      connecting.catch(() => this.resetProducer(connecting));
    }
    return this.producer;
  }

  private resetProducer(which: Promise<Producer>): void {
    if (this.producer !== which) return;
    this.producer = undefined;
    which.then((producer) => producer.disconnect()).catch(() => undefined);
  }

  private connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin({
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      const connecting = admin.connect().then(() => admin);
      this.admin = connecting;
      connecting.catch(() => this.resetAdmin(connecting));
    }
    return this.admin;
  }

  /**
   * Runs an admin call, once more on a new admin client if it fails: a client whose broker
   * restarted keeps failing on its closed connection.
   */
  private async withAdmin<T>(call: (admin: Admin) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const connecting = this.connectedAdmin();
      try {
        return await call(await connecting);
      } catch (error) {
        this.resetAdmin(connecting);
        if (attempt >= 2) throw error;
      }
    }
  }

  private resetAdmin(which: Promise<Admin>): void {
    if (this.admin !== which) return;
    this.admin = undefined;
    which.then((admin) => admin.disconnect()).catch(() => undefined);
  }

  private log({ namespace, level, log }: LogEntry): void {
    const { message, timestamp: _timestamp, logger: _logger, ...fields } = log;
    // We replace the producer after any failed publish, which is what keeps limited retries safe.
    if (message.startsWith('Limiting retries for the idempotent producer')) return;
    const entry = { namespace, ...fields };
    // "Response <api>" errors are broker answers that kafkajs retries by itself (coordinator not
    // available yet, leader moved...): a warning; a real failure surfaces to our callers.
    const severity = message.startsWith('Response ') ? Math.max(level, warnLevel) : Number(level);
    if (severity > Number(this.logLevel)) return;
    if (severity === errorLevel) this.logger.error(message, entry);
    else if (severity === warnLevel) this.logger.warn(message, entry);
    else this.logger.info(message, entry);
  }
}

/** One member of a consumer group. */
class KafkaConsumer implements MessageConsumer {
  private consumer: Consumer | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ConsumerOptions,
    private readonly settings: Settings,
    private readonly logger: KafkaTransportLogger,
    private readonly onStopped: (consumer: KafkaConsumer) => void,
  ) {}

  async start(handler: BatchHandler): Promise<void> {
    if (this.consumer) throw new Error('This consumer was already started');
    const { groupId, topics } = this.options;
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: this.settings.heartbeatIntervalMs,
      maxWaitTimeInMs: this.settings.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      // A crash on a retriable error restarts the consumer; it resumes from committed offsets.
      retry: {
        retries: 5,
        initialRetryTime: 300,
        maxRetryTime: 5000,
        restartOnFailure: () => Promise.resolve(true),
      },
    });
    this.consumer = consumer;

    let joined: () => void = () => undefined;
    const joining = new Promise<void>((resolve) => (joined = resolve));
    const removeJoin = consumer.on(consumer.events.GROUP_JOIN, () => joined());
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) {
        this.logger.error('Kafka consumer stopped after an error it does not retry', {
          groupId,
          error: payload.error.message,
        });
      }
    });

    try {
      await consumer.connect();
      await consumer.subscribe({
        topics: [...topics],
        fromBeginning: this.options.fromBeginning ?? true,
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.settings.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.handleBatch(handler, payload),
      });
      await withTimeout(joining, this.settings.joinTimeoutMs, `join group "${groupId}"`);
    } catch (error) {
      await this.stop();
      throw unavailable(`Kafka consumer of group "${groupId}" could not start`, error);
    } finally {
      removeJoin();
    }
  }

  stop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return Promise.resolve();
    this.stopping ??= consumer
      .disconnect()
      .catch((error: unknown) => {
        this.logger.warn('Kafka consumer did not disconnect cleanly', {
          groupId: this.options.groupId,
          error: errorMessage(error),
        });
      })
      .finally(() => this.onStopped(this));
    return this.stopping;
  }

  private async handleBatch(handler: BatchHandler, payload: EachBatchPayload): Promise<void> {
    const { topic, partition } = payload.batch;
    const messages = payload.batch.messages.map((message) => toInbound(topic, partition, message));
    const last = messages[messages.length - 1];
    if (!last) return;

    for (let failures = 0; ;) {
      // Leaving without resolving an offset: the batch is fetched again by whoever owns it next.
      if (!payload.isRunning() || payload.isStale()) return;
      try {
        await handler(messages);
        break;
      } catch (error) {
        failures += 1;
        this.logger.warn('Handler rejected a batch; it will be delivered again', {
          groupId: this.options.groupId,
          topic,
          partition,
          firstOffset: messages[0]!.offset,
          lastOffset: last.offset,
          attempt: failures,
          error: errorMessage(error),
        });
        await this.backoff(failures, () => payload.isRunning());
        // Throws when the group rebalances: kafkajs rejoins and the batch is fetched again.
        await payload.heartbeat();
      }
    }

    // Commit first, then move the fetch position: if the commit fails, the batch comes again.
    const next = (BigInt(last.offset) + 1n).toString();
    await payload.commitOffsetsIfNecessary({
      topics: [{ topic, partitions: [{ partition, offset: next }] }],
    });
    payload.resolveOffset(last.offset);
    await payload.heartbeat();
  }

  /** Waits before handling a rejected batch again; cut short when the member stops. */
  private async backoff(failures: number, isRunning: () => boolean): Promise<void> {
    const delay = Math.min(
      this.settings.retryDelayMs * 2 ** (failures - 1),
      this.settings.maxRetryDelayMs,
    );
    const until = Date.now() + delay;
    while (isRunning() && Date.now() < until) {
      await sleep(Math.min(100, until - Date.now()));
    }
  }
}

function toInbound(topic: string, partition: number, message: KafkaMessage): InboundMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ? message.key.toString('utf8') : null,
    value: message.value ?? Buffer.alloc(0),
    headers: decodeHeaders(message.headers),
    timestamp: new Date(Number(message.timestamp)),
  };
}

/** Kafka headers are bytes and may repeat; the last value of a name wins. */
function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value !== undefined)
      decoded[name] = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  }
  return decoded;
}

function kafkaJsLevel(level: KafkaLogLevel): KafkaJsLogLevel {
  switch (level) {
    case 'error':
      return KafkaJsLogLevel.ERROR;
    case 'warn':
      return KafkaJsLogLevel.WARN;
    case 'info':
      return KafkaJsLogLevel.INFO;
    case 'debug':
      return KafkaJsLogLevel.DEBUG;
    default: {
      const unknownLevel: never = level;
      throw new RangeError(`Unknown log level ${String(unknownLevel)}`);
    }
  }
}

function unavailable(message: string, cause: unknown): TransportUnavailableError {
  if (cause instanceof TransportUnavailableError) return cause;
  return new TransportUnavailableError(`${message}: ${errorMessage(cause)}`, { cause });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Rejects after `ms`; the late outcome of `promise` is ignored (callers treat it as unknown). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
