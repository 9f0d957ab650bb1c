import { randomUUID } from 'node:crypto';
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  jsonEvent,
  type Position,
  type ReadPosition,
} from '@eventstore/db-client';
import {
  PollingSubscription,
  DuplicateEventConflictError,
  InvalidAppendError,
  START,
  WrongExpectedVersionError,
  compareCheckpoints,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
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
import { readStoredMetadata, toEsdbEvent } from './envelope';
import {
  EventStoreDbConnectionStringError,
  isStreamNotFound,
  isWrongExpectedVersion,
  toEventStoreError,
} from './errors';
import { revisionAfter, satisfies } from './expected-version';
import { comparePositions, toCheckpoint, toReadPosition } from './positions';
import { esdbEventId, stableUuid } from './stable-uuid';

export interface EventStoreDbEventStoreOptions {
  readonly client: EventStoreDBClient;
  /** Dispose the client on close(). Default false: whoever created the client disposes it. */
  readonly disposeClientOnClose?: boolean;
  /** Subscriptions poll this often once caught up (default 100 ms). */
  readonly pollIntervalMs?: number;
  /** Attempts for an append racing other writers of the same stream (default 20). */
  readonly maxAppendAttempts?: number;
  /**
   * Bind every event id to one stream with a claim stream `touchline-event-id-<uuid>` (default
   * true): EventStoreDB only deduplicates ids inside a stream. Off, an id can be stored in two
   * streams; one claim write per new event is saved.
   */
  readonly claimEventIds?: boolean;
}

/** Streams that hold the event id claims; never returned by reads. */
export const CLAIM_STREAM_PREFIX = 'touchline-event-id-';

const claimStreamOf = (eventId: string) => `${CLAIM_STREAM_PREFIX}${esdbEventId(eventId)}`;

/** Raw events read per request; reads skip system events and claims, so a page can shrink. */
const READ_PAGE = 500;

/** The fields of the client's recorded events the adapter uses. */
interface RawEvent {
  readonly streamId: string;
  readonly revision: bigint;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly created: Date;
  readonly position?: Position;
}

interface StoredEntry {
  readonly revision: number;
  readonly appendId: string;
}

interface StreamScan {
  /** Revision of the stream's last event; -1 when it does not exist. */
  readonly version: number;
  readonly byId: ReadonlyMap<string, StoredEntry>;
}

type AppendOutcome = { readonly version: number; readonly wrote: boolean } | 'conflict';

/** Connects lazily: a bad string fails here, an unreachable server on the first call. */
export function createEventStoreDbClient(connectionString: string): EventStoreDBClient {
  if (!connectionString) throw new EventStoreDbConnectionStringError('it is empty');
  try {
    return EventStoreDBClient.connectionString(connectionString);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new EventStoreDbConnectionStringError(reason, { cause: error });
  }
}

/**
 * The EventStore port over EventStoreDB / KurrentDB (server 22.6 or newer: stream reads must
 * carry $all positions). Differences from the PostgreSQL adapter are in docs/event-store.md:
 * `ingest` is one append per stream, not one transaction; there are no client transactions.
 */
export class EventStoreDbEventStore implements EventStore {
  private readonly client: EventStoreDBClient;
  private readonly subscriptions = new Set<PollingSubscription>();
  private readonly maxAttempts: number;
  private closed = false;

  constructor(private readonly options: EventStoreDbEventStoreOptions) {
    this.client = options.client;
    this.maxAttempts = options.maxAppendAttempts ?? 20;
  }

  /** A store with its own client, disposed by close(). */
  static connect(
    connectionString: string,
    options: Omit<EventStoreDbEventStoreOptions, 'client' | 'disposeClientOnClose'> = {},
  ): EventStoreDbEventStore {
    return new EventStoreDbEventStore({
      ...options,
      client: createEventStoreDbClient(connectionString),
      disposeClientOnClose: true,
    });
  }

  async appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    validateAppendOrThrow(streamId, events, options);
    try {
      return await this.appendValidated(streamId, events, options.expectedVersion ?? 'any');
    } catch (error) {
      throw toEventStoreError(error);
    }
  }

  async ingest(batches: readonly StreamBatch[]): Promise<IngestResult> {
    const { byStream, total } = groupOrThrow(batches);
    // No multi-stream transaction in EventStoreDB: each stream is its own append. A failure
    // leaves the other streams written; the caller's retry skips what is already stored.
    const outcomes = await Promise.allSettled(
      [...byStream].map(([streamId, events]) => this.ingestStream(streamId, events)),
    );
    let stored = 0;
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') throw toEventStoreError(outcome.reason);
      stored += outcome.value;
    }
    return { stored, duplicates: total - stored };
  }

  async readStream(
    streamId: string,
    options: ReadStreamOptions = {},
  ): Promise<readonly RecordedEvent[]> {
    const fromVersion = options.fromVersion ?? 0;
    if (!Number.isInteger(fromVersion) || fromVersion < 0) {
      throw new InvalidAppendError(`fromVersion ${fromVersion} must be a non-negative integer`);
    }
    const limit = limitOrThrow(options.maxCount);
    if (limit === 0 || !streamId) return [];
    try {
      const raw = await this.readStreamRaw(streamId, BigInt(fromVersion), limit);
      return await this.toRecorded(raw, new Map());
    } catch (error) {
      throw toEventStoreError(error);
    }
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const after = options.after ?? START;
    const limit = limitOrThrow(options.maxCount);
    const events: RecordedEvent[] = [];
    if (limit === 0) return { events, checkpoint: after };
    // One more than asked: a read from a checkpoint starts at (and drops) that event.
    const pageSize = Math.min(READ_PAGE, Math.max(50, (limit ?? READ_PAGE) + 1));
    const known = new Map<string, Position>();
    let from: ReadPosition = toReadPosition(after);
    let lastRaw: Position | undefined;
    try {
      reading: for (;;) {
        const page: RawEvent[] = [];
        for await (const resolved of this.client.readAll({
          fromPosition: from,
          maxCount: pageSize,
          direction: FORWARDS,
        })) {
          if (resolved.event) page.push(resolved.event);
        }
        const fresh = page.filter(
          (e) => !lastRaw || !e.position || comparePositions(e.position, lastRaw) > 0,
        );
        for (const event of await this.toRecorded(fresh, known)) {
          if (compareCheckpoints(checkpointOf(event), after) <= 0) continue;
          events.push(event);
          if (events.length === limit) break reading;
        }
        const last = page[page.length - 1];
        if (page.length < pageSize || !last?.position) break;
        lastRaw = last.position;
        from = last.position;
      }
    } catch (error) {
      throw toEventStoreError(error);
    }
    const last = events[events.length - 1];
    return { events, checkpoint: last ? checkpointOf(last) : after };
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    if (this.closed) throw new Error('The event store is closed');
    // Polling readAll rather than the server's catch-up subscription: the port's contract is
    // pull-shaped (batches, wait for the handler, resume from a checkpoint), readAll already
    // filters and maps positions, and a dropped connection needs no resubscribe logic.
    const subscription = new PollingSubscription(
      (after, maxCount) => this.readAll({ after, maxCount }),
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
    let from: ReadPosition = END;
    let lastRaw: Position | undefined;
    try {
      for (;;) {
        const page: RawEvent[] = [];
        for await (const resolved of this.client.readAll({
          fromPosition: from,
          maxCount: 100,
          direction: BACKWARDS,
        })) {
          if (resolved.event) page.push(resolved.event);
        }
        const fresh = page.filter(
          (e) => !lastRaw || !e.position || comparePositions(e.position, lastRaw) < 0,
        );
        for (const raw of fresh) {
          const [newest] = await this.toRecorded([raw], new Map());
          if (newest) return checkpointOf(newest);
        }
        const last = page[page.length - 1];
        if (page.length < 100 || !last?.position) return START;
        lastRaw = last.position;
        from = last.position;
      }
    } catch (error) {
      throw toEventStoreError(error);
    }
  }

  /** Stops this store's subscriptions; disposes the client only when the store created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    if (this.options.disposeClientOnClose) await this.client.dispose();
  }

  private async appendValidated(
    streamId: string,
    events: readonly NewEvent[],
    expected: ExpectedVersion,
  ): Promise<AppendResult> {
    let claimed = false;
    for (let attempt = 1; ; attempt++) {
      const scan = await this.scanStream(streamId);
      if (events.some((event) => scan.byId.has(event.eventId))) {
        return repeatedOrThrow(streamId, events, expected, scan);
      }
      if (!satisfies(expected, scan.version)) {
        throw new WrongExpectedVersionError(streamId, expected, scan.version);
      }
      if (!claimed) {
        const taken = await this.claim(streamId, events);
        if (taken.length > 0) throw new DuplicateEventConflictError(streamId, taken);
        claimed = true;
      }
      const outcome = await this.tryAppend(streamId, events, scan.version);
      if (outcome !== 'conflict') {
        return { streamId, nextExpectedVersion: outcome.version, appended: outcome.wrote };
      }
      // Another writer got in between: the next scan decides whether the expectation still holds.
      if (attempt >= this.maxAttempts) {
        throw new WrongExpectedVersionError(streamId, expected, scan.version);
      }
      await backoff(attempt);
    }
  }

  /** Stores the events whose ids are not stored yet; answers how many it stored. */
  private async ingestStream(streamId: string, events: readonly NewEvent[]): Promise<number> {
    const claimed = new Set<string>();
    const takenElsewhere = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const scan = await this.scanStream(streamId);
      const fresh = events.filter(
        (event) => !scan.byId.has(event.eventId) && !takenElsewhere.has(event.eventId),
      );
      const unclaimed = fresh.filter((event) => !claimed.has(event.eventId));
      for (const id of await this.claim(streamId, unclaimed)) takenElsewhere.add(id);
      unclaimed.forEach((event) => claimed.add(event.eventId));
      const writable = fresh.filter((event) => !takenElsewhere.has(event.eventId));
      if (writable.length === 0) return 0;

      const outcome = await this.tryAppend(streamId, writable, scan.version);
      if (outcome !== 'conflict') return outcome.wrote ? writable.length : 0;
      if (attempt >= this.maxAttempts) {
        throw new WrongExpectedVersionError(streamId, 'any', scan.version);
      }
      await backoff(attempt);
    }
  }

  /**
   * Appends exactly after `version`. A concurrent append of the same ids at the same revision
   * also "succeeds" (EventStoreDB's idempotency), so the append id on the first written event
   * tells whether this call wrote them.
   */
  private async tryAppend(
    streamId: string,
    events: readonly NewEvent[],
    version: number,
  ): Promise<AppendOutcome> {
    const appendId = randomUUID();
    let nextRevision: bigint;
    try {
      const result = await this.client.appendToStream(
        streamId,
        events.map((event, offset) => toEsdbEvent(event, appendId, offset)),
        { expectedRevision: revisionAfter(version) },
      );
      nextRevision = result.nextExpectedRevision;
    } catch (error) {
      if (isWrongExpectedVersion(error)) return 'conflict';
      throw error;
    }
    const next = Number(nextRevision);
    const [first] = await this.readStreamRaw(streamId, BigInt(next - events.length + 1), 1);
    const wrote = readStoredMetadata(first?.metadata)?.touchline.appendId === appendId;
    return { version: next, wrote };
  }

  /** Binds each id to `streamId`; answers the ids already bound to another stream. */
  private async claim(streamId: string, events: readonly NewEvent[]): Promise<string[]> {
    if (this.options.claimEventIds === false) return [];
    const taken = await Promise.all(
      events.map(async ({ eventId }) => {
        try {
          // Same stream, same claim id: a repeated claim is EventStoreDB-idempotent.
          await this.client.appendToStream(
            claimStreamOf(eventId),
            jsonEvent({
              id: stableUuid('touchline-claim', streamId, eventId),
              type: 'EventIdClaimed',
              data: { eventId, streamId },
            }),
            { expectedRevision: NO_STREAM },
          );
          return undefined;
        } catch (error) {
          if (isWrongExpectedVersion(error)) return eventId;
          throw error;
        }
      }),
    );
    return taken.filter((id): id is string => id !== undefined);
  }

  /** Every event id of the stream with its revision. Costs a read of the whole stream. */
  private async scanStream(streamId: string): Promise<StreamScan> {
    const byId = new Map<string, StoredEntry>();
    let version = -1;
    for (const event of await this.readStreamRaw(streamId, 0n, undefined)) {
      version = Number(event.revision);
      const stored = readStoredMetadata(event.metadata);
      if (stored) {
        byId.set(stored.touchline.eventId, {
          revision: version,
          appendId: stored.touchline.appendId,
        });
      }
    }
    return { version, byId };
  }

  private async readStreamRaw(
    streamId: string,
    fromRevision: bigint,
    maxCount: number | undefined,
  ): Promise<RawEvent[]> {
    const events: RawEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamId, {
        fromRevision,
        direction: FORWARDS,
        ...(maxCount !== undefined && { maxCount }),
      })) {
        if (resolved.event) events.push(resolved.event);
      }
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      throw error;
    }
    return events;
  }

  /**
   * Our events among `raw`, with their checkpoints. The transaction id is the position of the
   * append's first event (see positions.ts): usually among `raw` already, else read from its
   * stream. `known` caches positions by stream and revision across pages.
   */
  private async toRecorded(
    raw: readonly RawEvent[],
    known: Map<string, Position>,
  ): Promise<RecordedEvent[]> {
    for (const event of raw) {
      if (event.position) known.set(key(event.streamId, event.revision), event.position);
    }
    const recorded: RecordedEvent[] = [];
    for (const event of raw) {
      if (event.streamId.startsWith('$') || event.type.startsWith('$')) continue;
      const stored = readStoredMetadata(event.metadata);
      if (!stored) continue; // claims and events other writers put there
      const position = positionOrThrow(event);
      const firstRevision = event.revision - BigInt(stored.touchline.offset);
      const appendPosition =
        stored.touchline.offset === 0
          ? position
          : await this.positionAt(event.streamId, firstRevision, known);
      const checkpoint = toCheckpoint(position, appendPosition ?? position);
      recorded.push({
        eventId: stored.touchline.eventId,
        type: event.type,
        schemaVersion: stored.touchline.schemaVersion,
        data: isRecord(event.data) ? event.data : {},
        metadata: stored.metadata,
        streamId: event.streamId,
        streamVersion: Number(event.revision),
        globalPosition: checkpoint.position,
        transactionId: checkpoint.transactionId,
        recordedAt: event.created,
      });
    }
    return recorded;
  }

  private async positionAt(
    streamId: string,
    revision: bigint,
    known: Map<string, Position>,
  ): Promise<Position | undefined> {
    const cached = known.get(key(streamId, revision));
    if (cached) return cached;
    const [event] = await this.readStreamRaw(streamId, revision, 1);
    // Gone only if the stream was truncated or scavenged below it; the event's own position
    // then stands in.
    if (!event || event.revision !== revision) return undefined;
    const position = positionOrThrow(event);
    known.set(key(streamId, revision), position);
    return position;
  }
}

function validateAppendOrThrow(
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions,
): void {
  validateStreamIdOrThrow(streamId);
  if (events.length === 0) throw new InvalidAppendError(`Append to "${streamId}" has no events`);
  const expected = options.expectedVersion;
  if (typeof expected === 'number' && (!Number.isInteger(expected) || expected < -1)) {
    throw new InvalidAppendError(`Expected version ${expected} of "${streamId}" is not a version`);
  }
  const seen = new Set<string>();
  for (const event of events) {
    validateEventOrThrow(streamId, event);
    if (seen.has(event.eventId)) {
      throw new InvalidAppendError(
        `Event id "${event.eventId}" appears twice in one append to "${streamId}"`,
      );
    }
    seen.add(event.eventId);
  }
}

/** `$` names are EventStoreDB's system streams and types; claim streams are the adapter's. */
function validateStreamIdOrThrow(streamId: string): void {
  if (!streamId) throw new InvalidAppendError('Stream id must not be empty');
  if (streamId.startsWith('$') || streamId.startsWith(CLAIM_STREAM_PREFIX)) {
    throw new InvalidAppendError(
      `Stream id "${streamId}" is reserved by EventStoreDB or Touchline`,
    );
  }
}

function validateEventOrThrow(streamId: string, event: NewEvent): void {
  if (!event.eventId)
    throw new InvalidAppendError(`Append to "${streamId}" has an event without id`);
  if (!event.type || event.type.startsWith('$')) {
    throw new InvalidAppendError(`Event type "${event.type}" is empty or reserved by EventStoreDB`);
  }
}

/** Events per stream, in order; an id repeated anywhere in the ingest is kept once (first wins). */
function groupOrThrow(batches: readonly StreamBatch[]): {
  byStream: Map<string, NewEvent[]>;
  total: number;
} {
  const byStream = new Map<string, NewEvent[]>();
  const seen = new Set<string>();
  let total = 0;
  for (const batch of batches) {
    validateStreamIdOrThrow(batch.streamId);
    for (const event of batch.events) {
      total++;
      validateEventOrThrow(batch.streamId, event);
      if (seen.has(event.eventId)) continue;
      seen.add(event.eventId);
      const events = byStream.get(batch.streamId) ?? [];
      events.push(event);
      byStream.set(batch.streamId, events);
    }
  }
  return { byStream, total };
}

/**
 * A safe repeat stored every id in this stream, in this order, where the same expected version
 * would have put them; it answers like the original append, with appended: false.
 */
function repeatedOrThrow(
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedVersion,
  scan: StreamScan,
): AppendResult {
  const revisions = events.map((event) => scan.byId.get(event.eventId)?.revision);
  const first = revisions[0];
  const inPlace =
    first !== undefined &&
    revisions.every((revision, i) => revision === first + i) &&
    satisfies(expected, first - 1);
  if (!inPlace) {
    const stored = events.filter((e) => scan.byId.has(e.eventId)).map((e) => e.eventId);
    throw new DuplicateEventConflictError(streamId, stored);
  }
  return { streamId, nextExpectedVersion: first + events.length - 1, appended: false };
}

function limitOrThrow(maxCount: number | undefined): number | undefined {
  if (maxCount === undefined) return undefined;
  if (!Number.isInteger(maxCount) || maxCount < 0) {
    throw new InvalidAppendError(`maxCount ${maxCount} must be a non-negative integer`);
  }
  return maxCount;
}

function positionOrThrow(event: RawEvent): Position {
  if (!event.position) {
    throw new Error(
      `EventStoreDB returned "${event.streamId}"@${event.revision} without its $all position: ` +
        'the adapter needs EventStoreDB 22.6 or newer',
    );
  }
  return event.position;
}

function checkpointOf(event: RecordedEvent): GlobalCheckpoint {
  return { transactionId: event.transactionId, position: event.globalPosition };
}

const key = (streamId: string, revision: bigint) => `${revision}\u0000${streamId}`;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  !ArrayBuffer.isView(value);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const backoff = (attempt: number) => sleep(Math.min(5 * attempt, 100) + Math.random() * 10);
