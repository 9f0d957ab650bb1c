import { randomUUID } from 'node:crypto';
import { EventStoreDBClient } from '@eventstore/db-client';
import {
  EventStoreUnavailableError,
  InvalidAppendError,
  type NewEvent,
} from '@touchline/event-store';
import { EventStoreDbConnectionStringError } from './errors';
import {
  CLAIM_STREAM_PREFIX,
  EventStoreDbEventStore,
  createEventStoreDbClient,
} from './eventstoredb-event-store';

// Port 1 on localhost refuses connections: every call reaches the real client and fails there.
const unreachable = 'esdb://127.0.0.1:1?tls=false';

const newEvent = (overrides: Partial<NewEvent> = {}): NewEvent => ({
  eventId: randomUUID(),
  type: 'PageViewed',
  schemaVersion: 1,
  data: {},
  ...overrides,
});

describe('EventStoreDbEventStore without a server', () => {
  describe('connection strings', () => {
    it.each([
      '',
      'bogus',
      'postgres://postgres@127.0.0.1:5432/db',
      'esdb://127.0.0.1:2113?tls=maybe',
    ])('refuses %p with a typed error before connecting', (connectionString) => {
      let error: unknown;
      try {
        EventStoreDbEventStore.connect(connectionString);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(EventStoreDbConnectionStringError);
      expect(error).toMatchObject({
        code: 'INVALID_EVENTSTORE_CONNECTION_STRING',
        message: expect.stringContaining('Invalid EventStoreDB connection string') as string,
      });
      if (connectionString) expect((error as Error).cause).toBeInstanceOf(Error);
    });

    it('accepts esdb:// strings and connects lazily', async () => {
      const client = createEventStoreDbClient(unreachable);
      expect(client).toBeInstanceOf(EventStoreDBClient);
      await client.dispose();
    });
  });

  describe('on an unreachable server', () => {
    let store: EventStoreDbEventStore;
    beforeAll(() => {
      store = EventStoreDbEventStore.connect(unreachable, { pollIntervalMs: 10 });
    });
    afterAll(async () => {
      await store.close();
    });

    it('every operation rejects with EventStoreUnavailableError', async () => {
      const stream = `s-${randomUUID()}`;
      await expect(store.appendToStream(stream, [newEvent()])).rejects.toBeInstanceOf(
        EventStoreUnavailableError,
      );
      await expect(
        store.ingest([{ streamId: stream, events: [newEvent()] }]),
      ).rejects.toBeInstanceOf(EventStoreUnavailableError);
      await expect(store.readStream(stream)).rejects.toBeInstanceOf(EventStoreUnavailableError);
      await expect(store.readAll()).rejects.toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE' });
      await expect(store.head()).rejects.toBeInstanceOf(EventStoreUnavailableError);
    });

    it('a subscription keeps retrying instead of ending, and stops on request', async () => {
      let batches = 0;
      const subscription = store.subscribeToAll({
        onBatch: () => {
          batches++;
          return Promise.resolve();
        },
      });
      const outcome = await Promise.race([
        subscription.done.then(
          () => 'ended',
          () => 'failed',
        ),
        new Promise((resolve) => setTimeout(() => resolve('still running'), 300)),
      ]);
      expect(outcome).toBe('still running');
      await subscription.stop();
      await expect(subscription.done).resolves.toBeUndefined();
      expect(batches).toBe(0);
    });

    // Validation runs before any I/O: were it not, these would be unavailability errors.
    it.each<[string, () => Promise<unknown>]>([
      ['an empty stream id', () => store.appendToStream('', [newEvent()])],
      ['a system stream', () => store.appendToStream('$settings', [newEvent()])],
      ['a claim stream', () => store.appendToStream(`${CLAIM_STREAM_PREFIX}x`, [newEvent()])],
      ['no events', () => store.appendToStream('s', [])],
      ['a system event type', () => store.appendToStream('s', [newEvent({ type: '$metadata' })])],
      ['an event without id', () => store.appendToStream('s', [newEvent({ eventId: '' })])],
      [
        'a fractional version',
        () => store.appendToStream('s', [newEvent()], { expectedVersion: 1.5 }),
      ],
      [
        'a version below -1',
        () => store.appendToStream('s', [newEvent()], { expectedVersion: -2 }),
      ],
      [
        'one id twice in an append',
        () => {
          const event = newEvent();
          return store.appendToStream('s', [event, event]);
        },
      ],
      [
        'an ingest into an empty stream id',
        () => store.ingest([{ streamId: '', events: [newEvent()] }]),
      ],
      ['a negative maxCount', () => store.readAll({ maxCount: -1 })],
      ['a negative fromVersion', () => store.readStream('s', { fromVersion: -1 })],
    ])('rejects %s with InvalidAppendError', async (_, call) => {
      await expect(call()).rejects.toBeInstanceOf(InvalidAppendError);
    });

    it('answers empty requests without a round trip', async () => {
      expect(await store.ingest([])).toEqual({ stored: 0, duplicates: 0 });
      expect(await store.readStream('s', { maxCount: 0 })).toEqual([]);
      expect(await store.readAll({ maxCount: 0 })).toEqual({
        events: [],
        checkpoint: { transactionId: 0n, position: 0n },
      });
    });
  });

  it('close() ends subscriptions, is idempotent, and refuses new subscriptions', async () => {
    const store = EventStoreDbEventStore.connect(unreachable, { pollIntervalMs: 10 });
    const subscription = store.subscribeToAll({ onBatch: () => Promise.resolve() });
    await store.close();
    await expect(subscription.done).resolves.toBeUndefined();
    await store.close();
    expect(() => store.subscribeToAll({ onBatch: () => Promise.resolve() })).toThrow(/closed/);
  });
});
