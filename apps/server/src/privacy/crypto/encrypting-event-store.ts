import { EVENT_CATALOG } from '@touchline/contracts';
import {
  DuplicateEventConflictError,
  WrongExpectedVersionError,
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
  type Subscription,
  type SubscribeToAllOptions,
} from '@touchline/event-store';
import {
  type DataKey,
  isSealed,
  openFields,
  openValue,
  pseudonymOf,
  sealFields,
  sealValue,
} from './field-cipher';
import type { SubjectKeyStore } from './subject-key-store';

/** Identifier fields of Segment-style payloads: not contact data, but they name a person. */
const IDENTIFIER_FIELDS = ['userId', 'anonymousId', 'previousId'];

const PERSONAL_FIELDS = new Map<string, readonly string[]>(
  EVENT_CATALOG.map((entry) => [
    `${entry.type}/${String(entry.version)}`,
    [...IDENTIFIER_FIELDS, ...entry.piiFields],
  ]),
);

/** The data paths sealed for an event type and version: the schema's personal-data fields. */
export function personalFieldsOf(type: string, schemaVersion: number): readonly string[] {
  return PERSONAL_FIELDS.get(`${type}/${String(schemaVersion)}`) ?? IDENTIFIER_FIELDS;
}

/** Metadata key holding the sealed stream id (the identifier the event arrived with). */
export const SEALED_STREAM = 'sealedStreamId';

export interface EncryptingEventStoreOptions {
  /** Secret of the keyed hash that turns identifiers into subjects (pseudonyms). */
  readonly pseudonymSecret: Buffer;
  /** How long a process trusts a key it read: an erasure elsewhere takes effect within it. */
  readonly keyCacheMs?: number;
  readonly clock?: () => number;
}

/**
 * Crypto-shredding around any EventStore adapter. On the way in, each event's stream id (an
 * identifier such as `email:ada@example.com`) becomes its subject, a keyed pseudonym, and the
 * schema's personal-data fields are sealed with that subject's data key; the real stream id
 * travels sealed in the metadata. On the way out everything is opened again, so callers see the
 * events they appended. Once the subject's key is destroyed, the same events read back with those
 * fields null and the pseudonym as their stream id: history stays replayable, the person is gone.
 *
 * Events stored before encryption (no sealed stream id) pass through unchanged.
 */
export class EncryptingEventStore implements EventStore {
  private readonly cache = new Map<string, { key: DataKey; until: number }>();
  /** How long a read key is trusted: an erasure in another process takes effect within it. */
  readonly keyCacheMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly inner: EventStore,
    private readonly keys: SubjectKeyStore,
    private readonly options: EncryptingEventStoreOptions,
  ) {
    this.keyCacheMs = options.keyCacheMs ?? 30_000;
    this.clock = options.clock ?? Date.now;
  }

  /** The subject (pseudonymous stream id) an identifier's events are stored under. */
  subjectOf(streamId: string): string {
    return pseudonymOf(streamId, this.options.pseudonymSecret);
  }

  async appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    // Malformed appends are the inner store's to refuse, with its own error.
    if (streamId.length === 0 || events.length === 0) {
      return this.inner.appendToStream(streamId, events, options);
    }
    const [sealed] = await this.seal([{ streamId, events }]);
    try {
      const result = await this.inner.appendToStream(
        this.subjectOf(streamId),
        sealed?.events ?? [],
        options,
      );
      return { ...result, streamId };
    } catch (error: unknown) {
      throw this.namingStream(error, streamId);
    }
  }

  async ingest(batches: readonly StreamBatch[]): Promise<IngestResult> {
    const subjects = new Map(batches.map((b) => [this.subjectOf(b.streamId), b.streamId]));
    try {
      return await this.inner.ingest(await this.seal(batches));
    } catch (error: unknown) {
      const subject = (error as { streamId?: unknown }).streamId;
      const streamId = typeof subject === 'string' ? subjects.get(subject) : undefined;
      throw streamId === undefined ? error : this.namingStream(error, streamId);
    }
  }

  /** Errors name the stream the caller gave, not the pseudonym it is stored under. */
  private namingStream(error: unknown, streamId: string): unknown {
    if (error instanceof WrongExpectedVersionError) {
      return new WrongExpectedVersionError(streamId, error.expected, error.actual);
    }
    if (error instanceof DuplicateEventConflictError) {
      return new DuplicateEventConflictError(streamId, error.eventIds);
    }
    return error;
  }

  async readStream(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<readonly RecordedEvent[]> {
    const stored = await this.inner.readStream(this.subjectOf(streamId), options);
    return this.open(stored);
  }

  async readAll(options?: ReadAllOptions): Promise<ReadAllResult> {
    const result = await this.inner.readAll(options);
    return { ...result, events: await this.open(result.events) };
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    return this.inner.subscribeToAll({
      ...options,
      onBatch: async (events, checkpoint) => options.onBatch(await this.open(events), checkpoint),
    });
  }

  head(): Promise<GlobalCheckpoint> {
    return this.inner.head();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * Destroys the keys of these identifiers (stream ids): their personal data can never be read
   * again, here or in any copy of the store. Answers how many live keys were destroyed.
   */
  async destroyKeysOf(streamIds: readonly string[]): Promise<number> {
    const subjects = streamIds.map((id) => this.subjectOf(id));
    const destroyed = await this.keys.destroy(subjects);
    for (const subject of subjects) this.cache.delete(subject);
    return destroyed;
  }

  /** Seals batches for storage: pseudonymous stream ids, personal fields sealed. */
  async seal(batches: readonly StreamBatch[]): Promise<StreamBatch[]> {
    const subjects = batches.map((batch) => this.subjectOf(batch.streamId));
    const keys = await this.keysFor(subjects, true);
    return batches.map((batch, index) => {
      const subject = subjects[index] as string;
      const key = keys.get(subject);
      if (!key) throw new Error(`no data key for subject ${subject}`);
      return {
        streamId: subject,
        events: batch.events.map((event) => ({
          ...event,
          data: sealFields(
            event.data,
            personalFieldsOf(event.type, event.schemaVersion),
            key,
            event.eventId,
          ),
          metadata: {
            ...(event.metadata ?? {}),
            [SEALED_STREAM]: sealValue(batch.streamId, key, event.eventId),
          },
        })),
      };
    });
  }

  private async open(events: readonly RecordedEvent[]): Promise<RecordedEvent[]> {
    const sealedSubjects = events
      .filter((event) => isSealed(event.metadata[SEALED_STREAM]))
      .map((event) => event.streamId);
    const keys = await this.keysFor(sealedSubjects, false);
    return events.map((event) => {
      const sealedStream = event.metadata[SEALED_STREAM];
      if (!isSealed(sealedStream)) return event;
      const key = keys.get(event.streamId) ?? null;
      const { [SEALED_STREAM]: _sealed, ...metadata } = event.metadata;
      const streamId = openValue(sealedStream, key, event.eventId);
      return {
        ...event,
        streamId: typeof streamId === 'string' ? streamId : event.streamId,
        data: openFields(
          event.data,
          personalFieldsOf(event.type, event.schemaVersion),
          key,
          event.eventId,
        ),
        metadata,
      };
    });
  }

  private async keysFor(
    subjects: readonly string[],
    create: boolean,
  ): Promise<Map<string, DataKey | null>> {
    const now = this.clock();
    const found = new Map<string, DataKey | null>();
    const wanted: string[] = [];
    for (const subject of new Set(subjects)) {
      const cached = this.cache.get(subject);
      if (cached !== undefined && cached.until > now) {
        found.set(subject, cached.key);
      } else {
        wanted.push(subject);
      }
    }
    if (wanted.length > 0) {
      for (const [subject, key] of await this.keys.keysFor(wanted, create)) {
        found.set(subject, key);
        // Only live keys are kept: a missing one may be created by another writer any moment.
        if (key !== null) this.cache.set(subject, { key, until: now + this.keyCacheMs });
      }
    }
    if (this.cache.size > 100_000) this.cache.clear();
    return found;
  }
}
