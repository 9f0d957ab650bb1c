import { randomUUID } from 'node:crypto';
import { compareCheckpoints, START, type GlobalCheckpoint } from '../checkpoint';
import {
  DuplicateEventConflictError,
  InvalidAppendError,
  WrongExpectedVersionError,
} from '../errors';
import type { EventStore, NewEvent, RecordedEvent } from '../event-store.port';

/** An append whose transaction stays open until the test ends it. */
export interface PendingAppend {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

export interface EventStoreContractFixture {
  readonly store: EventStore;
  /**
   * Adapter hook, required when the `transactions` capability is declared: run an append
   * (taking its global positions now) inside a transaction the test commits or rolls back later,
   * to play slow and failing writers.
   */
  readonly beginAppend?: (streamId: string, events: readonly NewEvent[]) => Promise<PendingAppend>;
  teardown(): Promise<void>;
}

export interface EventStoreContractCapabilities {
  /**
   * The fixture provides `beginAppend`. Adapters without client-visible transactions
   * (EventStoreDB) leave it out: the tests marked [transactions] are then skipped, and the
   * concurrency test uses failing appends as its only rolled-back writers.
   */
  readonly transactions?: boolean;
  /**
   * The backend runs transactions side by side (default true). PGlite behind its socket server
   * runs one at a time: a transaction held open blocks every other connection, so held
   * transactions stay a few milliseconds and tests marked [interleave] are skipped.
   */
  readonly interleavesTransactions?: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns true; fails the test with `what` after `timeoutMs`. */
async function eventually(
  what: string | (() => string),
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await sleep(20);
  }
}

/**
 * The behaviour every EventStore adapter must show. Call it from the adapter's *.int.spec.ts:
 *
 *   describeEventStoreContract('postgres', async () => ({ store, beginAppend, teardown }))
 *
 * `setup` runs once per suite; every test works on fresh stream and event ids, and reads of the
 * global log start from the head taken at the test's start.
 *
 * Tests marked [transactions] need the `transactions` capability; [interleave] also needs a
 * backend that runs transactions side by side. Missing capabilities show as skipped tests.
 */
export function describeEventStoreContract(
  name: string,
  setup: () => Promise<EventStoreContractFixture>,
  capabilities: EventStoreContractCapabilities = {},
): void {
  const interleaves = capabilities.interleavesTransactions !== false;
  const withTransactions = capabilities.transactions ? it : it.skip;
  const withInterleavedTransactions = capabilities.transactions && interleaves ? it : it.skip;

  describe(`EventStore contract: ${name}`, () => {
    let fixture: EventStoreContractFixture;
    let store: EventStore;
    let run: string;

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
      if (capabilities.transactions && !fixture.beginAppend) {
        throw new Error('The transactions capability needs the fixture to provide beginAppend');
      }
    }, 120_000);

    afterAll(async () => {
      await fixture?.teardown();
    }, 60_000);

    beforeEach(() => {
      run = randomUUID().slice(0, 8);
    });

    const streamName = (label: string) => `${run}-${label}`;
    const newEvent = (type = 'PageViewed', data: Record<string, unknown> = {}): NewEvent => ({
      eventId: randomUUID(),
      type,
      schemaVersion: 1,
      data,
      metadata: { correlationId: randomUUID() },
    });
    const newEvents = (count: number) =>
      Array.from({ length: count }, (_, i) => newEvent('PageViewed', { n: i }));
    const ids = (events: readonly { eventId: string }[]) => events.map((e) => e.eventId);
    const rejectionOf = (promise: Promise<unknown>) =>
      promise.then(
        () => {
          throw new Error('expected a rejection');
        },
        (error: unknown) => error,
      );

    /** Every event of this test's streams after `from`, paging through readAll. */
    async function readAllOfRun(from: GlobalCheckpoint, pageSize = 50): Promise<RecordedEvent[]> {
      const events: RecordedEvent[] = [];
      let after = from;
      for (;;) {
        const page = await store.readAll({ after, maxCount: pageSize });
        events.push(...page.events.filter((e) => e.streamId.startsWith(run)));
        if (page.events.length < pageSize) return events;
        after = page.checkpoint;
      }
    }

    /**
     * readAllOfRun once it holds `count` events. A committed event is readable once no older
     * transaction still runs, and on PostgreSQL that is any transaction that has written, in any
     * database of the server (transaction ids are server-wide): another spec's, in another Jest
     * worker, can delay it for a moment.
     */
    async function readAllOfRunOnceVisible(
      from: GlobalCheckpoint,
      count: number,
    ): Promise<RecordedEvent[]> {
      let events: RecordedEvent[] = [];
      await eventually(
        () => `${count} events of this run in readAll (${events.length} so far)`,
        async () => (events = await readAllOfRun(from)).length >= count,
      );
      return events;
    }

    describe('appendToStream with an expected version', () => {
      it('stores events with every field, numbered from 0, readable back', async () => {
        const stream = streamName('fields');
        const events = [
          newEvent('EmailOpened', { campaign: 'spring', nested: { ok: true }, list: [1, 2] }),
          newEvent('EmailClicked', { url: 'https://example.com' }),
        ];
        const result = await store.appendToStream(stream, events, { expectedVersion: 'no_stream' });

        expect(result).toEqual({ streamId: stream, nextExpectedVersion: 1, appended: true });
        const read = await store.readStream(stream);
        expect(read).toHaveLength(2);
        read.forEach((recorded, i) => {
          expect(recorded).toMatchObject({
            streamId: stream,
            streamVersion: i,
            eventId: events[i]!.eventId,
            type: events[i]!.type,
            schemaVersion: 1,
            data: events[i]!.data,
            metadata: events[i]!.metadata,
          });
          expect(typeof recorded.globalPosition).toBe('bigint');
          expect(typeof recorded.transactionId).toBe('bigint');
          expect(recorded.recordedAt).toBeInstanceOf(Date);
        });
        // One append is one transaction.
        expect(read[0]!.transactionId).toBe(read[1]!.transactionId);
        expect(read[0]!.globalPosition < read[1]!.globalPosition).toBe(true);
      });

      it('no_stream: fails with the actual version once the stream exists', async () => {
        const stream = streamName('no-stream');
        await store.appendToStream(stream, newEvents(2), { expectedVersion: 'no_stream' });
        const error = await rejectionOf(
          store.appendToStream(stream, newEvents(1), { expectedVersion: 'no_stream' }),
        );
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({
          code: 'WRONG_EXPECTED_VERSION',
          streamId: stream,
          expected: 'no_stream',
          actual: 1,
        });
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it('stream_exists: fails on a missing stream, passes on an existing one', async () => {
        const stream = streamName('exists');
        const error = await rejectionOf(
          store.appendToStream(stream, newEvents(1), { expectedVersion: 'stream_exists' }),
        );
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ expected: 'stream_exists', actual: -1 });
        expect(await store.readStream(stream)).toEqual([]);

        await store.appendToStream(stream, newEvents(1));
        const result = await store.appendToStream(stream, newEvents(2), {
          expectedVersion: 'stream_exists',
        });
        expect(result.nextExpectedVersion).toBe(2);
      });

      it('exact version: passes when equal (-1 for a new stream), fails otherwise', async () => {
        const stream = streamName('exact');
        expect(
          (await store.appendToStream(stream, newEvents(2), { expectedVersion: -1 }))
            .nextExpectedVersion,
        ).toBe(1);
        expect(
          (await store.appendToStream(stream, newEvents(1), { expectedVersion: 1 }))
            .nextExpectedVersion,
        ).toBe(2);

        for (const expectedVersion of [-1, 0, 1, 3]) {
          const error = await rejectionOf(
            store.appendToStream(stream, newEvents(1), { expectedVersion }),
          );
          expect(error).toBeInstanceOf(WrongExpectedVersionError);
          expect(error).toMatchObject({ expected: expectedVersion, actual: 2 });
        }
        expect(await store.readStream(stream)).toHaveLength(3);
      });

      it('any (the default): appends whatever the version', async () => {
        const stream = streamName('any');
        await store.appendToStream(stream, newEvents(1));
        const result = await store.appendToStream(stream, newEvents(1), { expectedVersion: 'any' });
        expect(result.nextExpectedVersion).toBe(1);
      });

      it('concurrent appends at the same expected version: exactly one wins', async () => {
        const stream = streamName('race');
        await store.appendToStream(stream, newEvents(1));
        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, () =>
            store.appendToStream(stream, newEvents(2), { expectedVersion: 0 }),
          ),
        );

        const winners = outcomes.filter((o) => o.status === 'fulfilled');
        const losers = outcomes.filter((o) => o.status === 'rejected');
        expect(winners).toHaveLength(1);
        for (const loser of losers) {
          expect(loser.reason).toBeInstanceOf(WrongExpectedVersionError);
        }
        expect((await store.readStream(stream)).map((e) => e.streamVersion)).toEqual([0, 1, 2]);
      });

      it('rejects malformed appends with InvalidAppendError', async () => {
        const event = newEvent();
        await expect(store.appendToStream('', [newEvent()])).rejects.toBeInstanceOf(
          InvalidAppendError,
        );
        await expect(store.appendToStream(streamName('empty'), [])).rejects.toBeInstanceOf(
          InvalidAppendError,
        );
        await expect(
          store.appendToStream(streamName('twice'), [event, event]),
        ).rejects.toMatchObject({ code: 'INVALID_APPEND' });
        expect(await store.readStream(streamName('twice'))).toEqual([]);
      });
    });

    describe('idempotent appends', () => {
      it('repeating an append stores nothing and reports appended: false', async () => {
        const stream = streamName('repeat');
        const first = newEvents(1);
        const second = newEvents(2);
        await store.appendToStream(stream, first, { expectedVersion: 'no_stream' });
        await store.appendToStream(stream, second, { expectedVersion: 0 });

        expect(await store.appendToStream(stream, second, { expectedVersion: 0 })).toEqual({
          streamId: stream,
          nextExpectedVersion: 2,
          appended: false,
        });
        expect(await store.appendToStream(stream, first, { expectedVersion: 'no_stream' })).toEqual(
          {
            streamId: stream,
            nextExpectedVersion: 0,
            appended: false,
          },
        );
        expect(await store.appendToStream(stream, second)).toMatchObject({ appended: false });
        expect(ids(await store.readStream(stream))).toEqual(ids([...first, ...second]));
      });

      it('concurrent repeats of one append store it once', async () => {
        const stream = streamName('repeat-race');
        const events = newEvents(3);
        const results = await Promise.all(
          Array.from({ length: 5 }, () => store.appendToStream(stream, events)),
        );
        expect(results.filter((r) => r.appended)).toHaveLength(1);
        expect(results.every((r) => r.nextExpectedVersion === 2)).toBe(true);
        expect(ids(await store.readStream(stream))).toEqual(ids(events));
      });

      it('a partial overlap is a DuplicateEventConflictError and stores nothing', async () => {
        const stream = streamName('overlap');
        const stored = newEvents(2);
        await store.appendToStream(stream, stored);
        const fresh = newEvent();

        const error = await rejectionOf(store.appendToStream(stream, [stored[1]!, fresh]));
        expect(error).toBeInstanceOf(DuplicateEventConflictError);
        expect(error).toMatchObject({ code: 'DUPLICATE_EVENT_CONFLICT', streamId: stream });
        expect((error as DuplicateEventConflictError).eventIds).toContain(stored[1]!.eventId);
        expect(ids(await store.readStream(stream))).toEqual(ids(stored));
      });

      it('an id stored in another stream is a conflict, not a repeat', async () => {
        const events = newEvents(1);
        await store.appendToStream(streamName('owner'), events);
        await expect(store.appendToStream(streamName('other'), events)).rejects.toBeInstanceOf(
          DuplicateEventConflictError,
        );
        expect(await store.readStream(streamName('other'))).toEqual([]);
      });
    });

    describe('ingest', () => {
      it('appends many streams at once, continuing their versions', async () => {
        const a = streamName('ingest-a');
        const b = streamName('ingest-b');
        await store.appendToStream(a, newEvents(2));
        const batchA = newEvents(3);
        const batchB = newEvents(2);

        const result = await store.ingest([
          { streamId: a, events: batchA },
          { streamId: b, events: batchB },
        ]);

        expect(result).toEqual({ stored: 5, duplicates: 0 });
        const readA = await store.readStream(a);
        expect(readA.map((e) => e.streamVersion)).toEqual([0, 1, 2, 3, 4]);
        expect(ids(readA.slice(2))).toEqual(ids(batchA));
        expect(ids(await store.readStream(b))).toEqual(ids(batchB));
        expect((await store.appendToStream(b, newEvents(1), { expectedVersion: 1 })).appended).toBe(
          true,
        );
      });

      it('skips ids already stored and counts them as duplicates', async () => {
        const a = streamName('dedup-a');
        const b = streamName('dedup-b');
        const old = newEvents(3);
        await store.ingest([{ streamId: a, events: old }]);
        const fresh = newEvents(2);

        const again = await store.ingest([{ streamId: a, events: old }]);
        const mixed = await store.ingest([
          { streamId: a, events: [old[0]!, fresh[0]!, old[2]!] },
          { streamId: b, events: [fresh[1]!, fresh[1]!] },
        ]);

        expect(again).toEqual({ stored: 0, duplicates: 3 });
        expect(mixed).toEqual({ stored: 2, duplicates: 3 });
        expect(ids(await store.readStream(a))).toEqual([...ids(old), fresh[0]!.eventId]);
        expect(ids(await store.readStream(b))).toEqual([fresh[1]!.eventId]);
        expect(await store.ingest([])).toEqual({ stored: 0, duplicates: 0 });
      });

      it('concurrent ingests of overlapping batches store each id once, versions without gaps', async () => {
        const streams = [0, 1, 2].map((i) => streamName(`overlap-${i}`));
        const pool = streams.map(() => newEvents(30));
        const batches = Array.from({ length: 6 }, (_, worker) =>
          streams.map((streamId, s) => ({
            streamId,
            // Each worker ingests an overlapping window of every stream's events.
            events: pool[s]!.slice(worker * 4, worker * 4 + 12),
          })),
        );

        const results = await Promise.all(batches.map((batch) => store.ingest(batch)));

        const expected = streams.map((_, s) => new Set(ids(pool[s]!.slice(0, 32))));
        expect(results.reduce((sum, r) => sum + r.stored, 0)).toBe(
          expected.reduce((sum, set) => sum + set.size, 0),
        );
        for (const [s, streamId] of streams.entries()) {
          const read = await store.readStream(streamId);
          expect(new Set(ids(read))).toEqual(expected[s]);
          expect(read.map((e) => e.streamVersion)).toEqual(read.map((_, i) => i));
        }
      });
    });

    describe('reading', () => {
      it('readStream pages by version and returns [] for a missing stream', async () => {
        const stream = streamName('paging');
        const events = newEvents(7);
        await store.appendToStream(stream, events);

        expect(ids(await store.readStream(stream, { maxCount: 3 }))).toEqual(
          ids(events.slice(0, 3)),
        );
        expect(ids(await store.readStream(stream, { fromVersion: 3, maxCount: 3 }))).toEqual(
          ids(events.slice(3, 6)),
        );
        expect(ids(await store.readStream(stream, { fromVersion: 6 }))).toEqual(
          ids(events.slice(6)),
        );
        expect(await store.readStream(stream, { fromVersion: 7 })).toEqual([]);
        expect(await store.readStream(streamName('missing'))).toEqual([]);
      });

      it('readAll pages in global order from checkpoints; head() is the last event', async () => {
        const start = await store.head();
        const appended: string[] = [];
        for (let i = 0; i < 5; i++) {
          const events = newEvents(2);
          await store.appendToStream(streamName(`all-${i % 2}`), events);
          appended.push(...ids(events));
        }
        await readAllOfRunOnceVisible(start, appended.length);

        const pages: RecordedEvent[][] = [];
        let after = start;
        for (;;) {
          const page = await store.readAll({ after, maxCount: 3 });
          if (page.events.length === 0) {
            expect(page.checkpoint).toEqual(after);
            break;
          }
          const last = page.events[page.events.length - 1]!;
          expect(page.checkpoint).toEqual({
            transactionId: last.transactionId,
            position: last.globalPosition,
          });
          pages.push([...page.events]);
          after = page.checkpoint;
        }

        const all = pages.flat();
        expect(ids(all.filter((e) => e.streamId.startsWith(run)))).toEqual(appended);
        expect(pages.every((page) => page.length <= 3)).toBe(true);
        for (let i = 1; i < all.length; i++) {
          expect(compareCheckpoints(checkpointOf(all[i - 1]!), checkpointOf(all[i]!))).toBe(-1);
        }
        expect(await store.head()).toEqual(checkpointOf(all[all.length - 1]!));
      });

      it('readAll from START includes the first events', async () => {
        const stream = streamName('start');
        const start = await store.head();
        await store.appendToStream(stream, newEvents(1));
        await readAllOfRunOnceVisible(start, 1);
        const first = await store.readAll({ after: START, maxCount: 1 });
        expect(first.events).toHaveLength(1);
        expect(compareCheckpoints(first.checkpoint, START)).toBe(1);
      });
    });

    describe('subscribeToAll', () => {
      it('delivers in order, and resumes after its last checkpoint', async () => {
        const stream = streamName('sub');
        const start = await store.head();
        const first = newEvents(5);
        await store.appendToStream(stream, first);

        const seen: RecordedEvent[] = [];
        let last = start;
        const subscription = store.subscribeToAll({
          after: start,
          batchSize: 2,
          onBatch: (events, checkpoint) => {
            seen.push(...events.filter((e) => e.streamId.startsWith(run)));
            last = checkpoint;
            return Promise.resolve();
          },
        });
        const more = newEvents(3);
        await store.appendToStream(stream, more);
        await eventually('the first subscription to see 8 events', () => seen.length >= 8);
        await subscription.stop();
        await subscription.done;
        expect(ids(seen)).toEqual(ids([...first, ...more]));

        const later = newEvents(2);
        await store.appendToStream(stream, later);
        const resumed: RecordedEvent[] = [];
        const second = store.subscribeToAll({
          after: last,
          onBatch: (events) => {
            resumed.push(...events.filter((e) => e.streamId.startsWith(run)));
            return Promise.resolve();
          },
        });
        await eventually('the resumed subscription to see 2 events', () => resumed.length >= 2);
        await second.stop();
        expect(ids(resumed)).toEqual(ids(later));
      });

      it('a failing handler ends the subscription through done', async () => {
        await store.appendToStream(streamName('sub-fail'), newEvents(1));
        const failure = new Error('handler failed');
        let calls = 0;
        const subscription = store.subscribeToAll({
          after: START,
          onBatch: () => {
            calls++;
            return Promise.reject(failure);
          },
        });
        await expect(subscription.done).rejects.toBe(failure);
        await subscription.stop();
        expect(calls).toBe(1);
      });
    });

    describe('ordering under concurrent writers', () => {
      // [transactions] [interleave]
      withInterleavedTransactions(
        'readAll holds back events behind a still-open transaction that started earlier',
        async () => {
          const beginAppend = fixture.beginAppend!;
          const start = await store.head();
          const slow = newEvents(1);
          const pending = await beginAppend(streamName('slow'), slow);
          const fast = newEvents(1);
          try {
            await store.appendToStream(streamName('fast'), fast);
            expect(await readAllOfRun(start)).toEqual([]);
          } finally {
            await pending.commit();
          }
          expect(ids(await readAllOfRunOnceVisible(start, slow.length + fast.length))).toEqual(
            ids([...slow, ...fast]),
          );
        },
      );

      // [transactions]
      withTransactions('a rolled-back append never appears', async () => {
        const beginAppend = fixture.beginAppend!;
        const start = await store.head();
        const pending = await beginAppend(streamName('rollback'), newEvents(2));
        await pending.rollback();
        const kept = newEvents(1);
        await store.appendToStream(streamName('rollback'), kept, { expectedVersion: 'no_stream' });
        expect(ids(await readAllOfRunOnceVisible(start, kept.length))).toEqual(ids(kept));
      });

      // Uses the port alone; with the hook it adds slow commits and rollbacks after positions
      // were taken. On a non-interleaving backend the slow commits stay a few milliseconds.
      it('a subscriber sees every committed event exactly once, in the final readAll order', async () => {
        const beginAppend = capabilities.transactions ? fixture.beginAppend : undefined;
        const maxDelay = interleaves ? 40 : 3;
        const writers = 8;
        const opsPerWriter = 30;
        const start = await store.head();
        const committed = new Set<string>();
        const abandoned = new Set<string>();

        const delivered: RecordedEvent[] = [];
        const checkpoints: GlobalCheckpoint[] = [];
        const subscription = store.subscribeToAll({
          after: start,
          batchSize: 17,
          onBatch: (events, checkpoint) => {
            delivered.push(...events.filter((e) => e.streamId.startsWith(run)));
            checkpoints.push(checkpoint);
            return Promise.resolve();
          },
        });

        const writer = async (w: number) => {
          const own = streamName(`writer-${w}`);
          const first = newEvents(1);
          await store.appendToStream(own, first, { expectedVersion: 'no_stream' });
          ids(first).forEach((id) => committed.add(id));
          for (let op = 0; op < opsPerWriter; op++) {
            const events = newEvents(1 + Math.floor(Math.random() * 3));
            const stream = Math.random() < 0.3 ? streamName('shared') : own;
            const roll = Math.random();
            if (beginAppend && roll < 0.25) {
              const pending = await beginAppend(stream, events);
              await sleep(Math.random() * maxDelay);
              await pending.commit();
              ids(events).forEach((id) => committed.add(id));
            } else if (beginAppend && roll < 0.4) {
              const pending = await beginAppend(stream, events);
              await sleep(Math.random() * maxDelay);
              await pending.rollback();
              ids(events).forEach((id) => abandoned.add(id));
            } else if (roll < 0.5) {
              // Fails the version check: its transaction rolls back.
              await expect(
                store.appendToStream(own, events, { expectedVersion: 'no_stream' }),
              ).rejects.toBeInstanceOf(WrongExpectedVersionError);
              ids(events).forEach((id) => abandoned.add(id));
            } else {
              await store.appendToStream(stream, events);
              ids(events).forEach((id) => committed.add(id));
            }
          }
        };

        try {
          await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
          // A subscription that dies must fail the test with its own error, not a timeout.
          await Promise.race([
            eventually(
              () => `the subscriber to deliver ${committed.size} events (has ${delivered.length})`,
              () => delivered.length >= committed.size,
              30_000,
            ),
            subscription.done.then(() => {
              throw new Error('The subscription ended early');
            }),
          ]);
          await sleep(300); // room for a duplicate delivery to show up
        } finally {
          await subscription.stop();
        }
        await subscription.done;

        const deliveredIds = ids(delivered);
        expect(new Set(deliveredIds).size).toBe(deliveredIds.length);
        expect(new Set(deliveredIds)).toEqual(committed);
        expect(deliveredIds.filter((id) => abandoned.has(id))).toEqual([]);
        expect(deliveredIds).toEqual(ids(await readAllOfRun(start)));
        for (let i = 1; i < delivered.length; i++) {
          expect(
            compareCheckpoints(checkpointOf(delivered[i - 1]!), checkpointOf(delivered[i]!)),
          ).toBe(-1);
        }
        for (let i = 1; i < checkpoints.length; i++) {
          expect(compareCheckpoints(checkpoints[i - 1]!, checkpoints[i]!)).toBe(-1);
        }
        // Within a stream, the global order follows stream versions.
        const lastVersion = new Map<string, number>();
        for (const event of delivered) {
          expect(event.streamVersion).toBe((lastVersion.get(event.streamId) ?? -1) + 1);
          lastVersion.set(event.streamId, event.streamVersion);
        }
      }, 120_000);
    });
  });
}

function checkpointOf(event: RecordedEvent): GlobalCheckpoint {
  return { transactionId: event.transactionId, position: event.globalPosition };
}
