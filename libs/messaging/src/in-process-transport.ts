import { partitionForKey } from './partition';
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
} from './transport.port';

export interface InProcessTransportOptions {
  /** Clock for message timestamps (default: the system clock). */
  readonly now?: () => Date;
  /** Most messages handed to one handler call (default 500). */
  readonly maxBatchSize?: number;
  /** Delay before a failed batch is delivered again; doubles up to maxRetryDelayMs (default 100). */
  readonly retryDelayMs?: number;
  /** Upper bound of the retry delay (default 2000). */
  readonly maxRetryDelayMs?: number;
  /** Partitions of a topic that a consumer subscribes to before ensureTopics created it (default 3). */
  readonly defaultPartitions?: number;
}

/**
 * The transport of the embedded mode (one process), with Kafka's shape: topics split into
 * partitions by key (same murmur2 partitioner), consumer groups whose running members share the
 * partitions, offsets per partition, batches per partition in offset order, offsets committed only
 * after the handler resolved.
 *
 * Differences from Kafka, on purpose:
 * - `publish` resolves only after every consumer group running on the topic handled (and so
 *   committed) the messages; the collector then answers 200 only for stored events.
 * - `publish` rejects with TransportUnavailableError when no consumer of a topic is running
 *   (nothing is kept for later: never a silent drop) and when a handler rejected a batch holding
 *   the messages (`cause` is the handler's error): answer 503. The batch stays in the partition
 *   and is delivered again after a backoff, so a retried request may be handled twice: handlers
 *   must be idempotent, as with Kafka.
 * - Messages live in memory only until every group that ever subscribed to the topic committed
 *   them: no history, and `fromBeginning` means "from the oldest message still held".
 * - A consumer may subscribe to a topic that ensureTopics has not created: it is created with
 *   `defaultPartitions`. Publishing to a topic nobody consumes is rejected in any case.
 */
export class InProcessTransport implements Transport {
  private readonly topics = new Map<string, TopicState>();
  private readonly groups = new Map<string, GroupState>();
  private readonly members = new Set<InProcessConsumer>();
  private readonly now: () => Date;
  private readonly maxBatchSize: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly defaultPartitions: number;
  private closed = false;
  private nextMemberId = 0;

  constructor(options: InProcessTransportOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.maxBatchSize = positiveInteger(options.maxBatchSize ?? 500, 'maxBatchSize');
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.maxRetryDelayMs = Math.max(options.maxRetryDelayMs ?? 2000, this.retryDelayMs);
    this.defaultPartitions = positiveInteger(options.defaultPartitions ?? 3, 'defaultPartitions');
  }

  ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    this.assertOpen();
    for (const spec of topics) {
      if (!this.topics.has(spec.name)) this.createTopic(spec.name, spec.partitions);
    }
    return Promise.resolve();
  }

  private createTopic(name: string, partitions: number): void {
    const count = positiveInteger(partitions, `partitions of topic "${name}"`);
    this.topics.set(name, {
      name,
      partitions: Array.from({ length: count }, () => new PartitionLog()),
    });
  }

  publisher(): MessagePublisher {
    return { publish: (messages) => this.publish(messages) };
  }

  consumer(options: ConsumerOptions): MessageConsumer {
    return new InProcessConsumer(this, this.nextMemberId++, options);
  }

  isHealthy(): Promise<boolean> {
    return Promise.resolve(!this.closed);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.members].map((member) => member.stop()));
  }

  private publish(messages: readonly OutboundMessage[]): Promise<void> {
    if (this.closed) return rejected('The in-process transport is closed');
    // Check every topic before appending anything: a publish is delivered whole or not at all.
    for (const message of messages) {
      if (!this.topics.has(message.topic) || !this.isConsumed(message.topic)) {
        return rejected(`No consumer of topic "${message.topic}" is running`);
      }
    }

    // Appending is synchronous, so concurrent publishes never interleave inside a partition.
    const highest = new Map<Cursor, number>();
    const touched = new Set<Cursor>();
    const timestamp = this.now();
    for (const message of messages) {
      const topic = this.topics.get(message.topic)!;
      const partition = partitionForKey(message.key, topic.partitions.length);
      const offset = topic.partitions[partition]!.append({
        topic: message.topic,
        partition,
        key: message.key,
        value: message.value,
        headers: { ...message.headers },
        timestamp,
      });
      for (const group of this.groups.values()) {
        const cursor = group.cursors.get(cursorKey(message.topic, partition));
        if (!cursor) continue;
        touched.add(cursor);
        if (this.hasRunningMember(group, message.topic)) highest.set(cursor, offset);
      }
    }

    // One waiter per cursor: batches are contiguous, so its highest offset stands for the rest.
    const waits = [...highest].map(
      ([cursor, offset]) =>
        new Promise<void>((resolve, reject) => cursor.waiters.push({ offset, resolve, reject })),
    );
    for (const cursor of touched) this.drain(cursor);
    return Promise.all(waits).then(() => undefined);
  }

  /** @internal Called by a consumer when it starts. */
  join(member: InProcessConsumer): void {
    this.assertOpen();
    for (const name of member.options.topics) {
      if (!this.topics.has(name)) this.createTopic(name, this.defaultPartitions);
    }
    const group = this.groupState(member.options.groupId);
    for (const name of member.options.topics) {
      const topic = this.topics.get(name)!;
      topic.partitions.forEach((log, partition) => {
        const key = cursorKey(name, partition);
        if (group.cursors.has(key)) return;
        const start = member.options.fromBeginning === false ? log.endOffset : log.startOffset;
        group.cursors.set(key, new Cursor(group, name, partition, start));
      });
    }
    group.members.push(member);
    this.members.add(member);
    this.rebalance(group);
  }

  /** @internal Called by a consumer once it stopped taking batches and its handlers settled. */
  leave(member: InProcessConsumer): void {
    const group = this.groups.get(member.options.groupId);
    this.members.delete(member);
    if (!group) return;
    const index = group.members.indexOf(member);
    if (index >= 0) group.members.splice(index, 1);
    for (const cursor of group.cursors.values()) {
      if (!this.owner(cursor)) {
        cursor.rejectWaiters(
          new TransportUnavailableError(
            `The consumers of group "${group.id}" on topic "${cursor.topic}" stopped`,
          ),
        );
      }
    }
    this.rebalance(group);
  }

  private rebalance(group: GroupState): void {
    for (const cursor of group.cursors.values()) this.drain(cursor);
  }

  /** Delivers a cursor's pending messages; one loop per cursor keeps a partition in order. */
  private drain(cursor: Cursor): void {
    if (cursor.busy) {
      cursor.wake();
      return;
    }
    cursor.busy = true;
    void this.deliverLoop(cursor);
  }

  private async deliverLoop(cursor: Cursor): Promise<void> {
    const log = this.topics.get(cursor.topic)!.partitions[cursor.partition]!;
    // `busy` is cleared in the same tick as the last check, so no wake-up falls in between.
    try {
      for (;;) {
        const owner = this.owner(cursor);
        if (!owner || cursor.committed >= log.endOffset) return;
        const batch = log.slice(cursor.committed, cursor.committed + this.maxBatchSize);
        try {
          await owner.handle(batch);
        } catch (error) {
          cursor.failures += 1;
          cursor.rejectWaiters(
            new TransportUnavailableError(
              `Consumer group "${cursor.group.id}" failed to handle ${cursor.topic}[${cursor.partition}]`,
              { cause: error },
            ),
          );
          const backoff = this.retryDelayMs * 2 ** (cursor.failures - 1);
          await cursor.sleep(Math.min(backoff, this.maxRetryDelayMs));
          continue;
        }
        cursor.failures = 0;
        cursor.commit(cursor.committed + batch.length);
        this.trim(cursor.topic, cursor.partition, log);
      }
    } finally {
      cursor.busy = false;
    }
  }

  private trim(topic: string, partition: number, log: PartitionLog): void {
    let lowest = log.endOffset;
    const key = cursorKey(topic, partition);
    for (const group of this.groups.values()) {
      const cursor = group.cursors.get(key);
      if (cursor) lowest = Math.min(lowest, cursor.committed);
    }
    log.trimBefore(lowest);
  }

  /** The running member that owns a partition: running subscribers share partitions in turn. */
  private owner(cursor: Cursor): InProcessConsumer | undefined {
    const candidates = cursor.group.members.filter(
      (member) => member.isRunning && member.options.topics.includes(cursor.topic),
    );
    return candidates[cursor.partition % Math.max(candidates.length, 1)];
  }

  private isConsumed(topic: string): boolean {
    return [...this.groups.values()].some((group) => this.hasRunningMember(group, topic));
  }

  private hasRunningMember(group: GroupState, topic: string): boolean {
    return group.members.some(
      (member) => member.isRunning && member.options.topics.includes(topic),
    );
  }

  private groupState(id: string): GroupState {
    let group = this.groups.get(id);
    if (!group) {
      group = { id, members: [], cursors: new Map() };
      this.groups.set(id, group);
    }
    return group;
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportUnavailableError('The in-process transport is closed');
  }
}

/** One member of a consumer group. */
class InProcessConsumer implements MessageConsumer {
  private handler: BatchHandler | undefined;
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly transport: InProcessTransport,
    readonly memberId: number,
    readonly options: ConsumerOptions,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  start(handler: BatchHandler): Promise<void> {
    if (this.handler) return Promise.reject(new Error('This consumer was already started'));
    this.handler = handler;
    this.running = true;
    try {
      this.transport.join(this);
    } catch (error) {
      this.running = false;
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return Promise.resolve();
  }

  /** Stops taking batches, waits for the handlers in flight (their offsets still commit). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await Promise.allSettled([...this.inFlight]);
    this.transport.leave(this);
  }

  async handle(batch: readonly InboundMessage[]): Promise<void> {
    const handling = Promise.resolve().then(() => this.handler!(batch));
    this.inFlight.add(handling);
    try {
      await handling;
    } finally {
      this.inFlight.delete(handling);
    }
  }
}

interface GroupState {
  readonly id: string;
  readonly members: InProcessConsumer[];
  /** Position of the group in each partition of its topics, by `topic/partition`. */
  readonly cursors: Map<string, Cursor>;
}

interface TopicState {
  readonly name: string;
  readonly partitions: readonly PartitionLog[];
}

interface Waiter {
  readonly offset: number;
  resolve(): void;
  reject(error: Error): void;
}

/** A group's committed position in one partition, and the publishers waiting on it. */
class Cursor {
  busy = false;
  failures = 0;
  waiters: Waiter[] = [];
  private wakeSleeper: (() => void) | undefined;

  constructor(
    readonly group: GroupState,
    readonly topic: string,
    readonly partition: number,
    public committed: number,
  ) {}

  commit(next: number): void {
    this.committed = next;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.offset < next) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  /** Every pending waiter is at or after the failed batch, so none can succeed before a retry. */
  rejectWaiters(error: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /** A retry backoff that a new message, a new member or a stop cuts short. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeSleeper = done;
    });
  }

  wake(): void {
    this.wakeSleeper?.();
  }
}

/** A partition's messages that some group has not committed yet. */
class PartitionLog {
  startOffset = 0;
  private readonly messages: InboundMessage[] = [];

  get endOffset(): number {
    return this.startOffset + this.messages.length;
  }

  append(message: Omit<InboundMessage, 'offset'>): number {
    const offset = this.endOffset;
    this.messages.push({ ...message, offset: String(offset) });
    return offset;
  }

  slice(from: number, to: number): InboundMessage[] {
    return this.messages.slice(from - this.startOffset, to - this.startOffset);
  }

  trimBefore(offset: number): void {
    const count = offset - this.startOffset;
    if (count <= 0) return;
    this.messages.splice(0, count);
    this.startOffset = offset;
  }
}

function cursorKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

function rejected(message: string): Promise<never> {
  return Promise.reject(new TransportUnavailableError(message));
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
  return value;
}
