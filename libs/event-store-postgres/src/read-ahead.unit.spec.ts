import {
  type GlobalCheckpoint,
  type ReadAllResult,
  type RecordedEvent,
} from '@touchline/event-store';
import { readingAhead } from './read-ahead';

/** A log of `size` events, one transaction each, read in pages as the store reads it. */
function log(size: number) {
  const events: RecordedEvent[] = Array.from({ length: size }, (_, i) => ({
    eventId: `e${String(i + 1)}`,
    type: 'Test',
    schemaVersion: 1,
    data: {},
    metadata: {},
    streamId: 's',
    streamVersion: i,
    globalPosition: BigInt(i + 1),
    transactionId: BigInt(i + 1),
    recordedAt: new Date(0),
  }));
  const calls: bigint[] = [];
  let failNext = false;
  const read = (after: GlobalCheckpoint, maxCount: number): Promise<ReadAllResult> => {
    calls.push(after.position);
    if (failNext) {
      failNext = false;
      return Promise.reject(new Error('connection reset'));
    }
    const page = events.filter((e) => e.globalPosition > after.position).slice(0, maxCount);
    const last = page[page.length - 1];
    return Promise.resolve({
      events: page,
      checkpoint: last
        ? { transactionId: last.transactionId, position: last.globalPosition }
        : after,
    });
  };
  return { read, calls, failNextRead: () => (failNext = true) };
}

const start: GlobalCheckpoint = { transactionId: 0n, position: 0n };

describe('readingAhead', () => {
  it('gives the pages plain reads give, and reads the next one as soon as a page is full', async () => {
    const { read, calls } = log(25);
    const reader = readingAhead(read);
    const positions: bigint[][] = [];
    let after = start;
    for (;;) {
      const page = await reader(after, 10);
      // The next page is already asked for while this one is applied, only after a full page.
      expect(calls[calls.length - 1]).toBe(
        page.events.length === 10 ? page.checkpoint.position : after.position,
      );
      if (page.events.length === 0) break;
      positions.push(page.events.map((e) => e.globalPosition));
      after = page.checkpoint;
      if (page.events.length < 10) break;
    }
    expect(positions.map((p) => [p[0], p[p.length - 1]])).toEqual([
      [1n, 10n],
      [11n, 20n],
      [21n, 25n],
    ]);
    // Each page read once: the read-ahead was used, not repeated.
    expect(calls).toEqual([0n, 10n, 20n]);
  });

  it('reads again where it is asked when that is not where it read ahead', async () => {
    const { read, calls } = log(30);
    const reader = readingAhead(read);
    await reader(start, 10);
    // The subscriber restarted from an earlier checkpoint: the read-ahead of 11..20 is not used.
    const page = await reader({ transactionId: 5n, position: 5n }, 10);
    expect(page.events[0]?.globalPosition).toBe(6n);
    expect(calls).toEqual([0n, 10n, 5n, 15n]);
  });

  it('reads a page again when its read-ahead failed', async () => {
    const { read, calls, failNextRead } = log(30);
    const reader = readingAhead(read);
    const first = await reader(start, 10);
    expect(first.events).toHaveLength(10);
    // The read-ahead (already under way) succeeded; make the following one fail.
    failNextRead();
    const second = await reader(first.checkpoint, 10);
    expect(second.events[0]?.globalPosition).toBe(11n);
    const third = await reader(second.checkpoint, 10);
    expect(third.events.map((e) => e.globalPosition)).toEqual(
      Array.from({ length: 10 }, (_, i) => BigInt(21 + i)),
    );
    expect(calls).toEqual([0n, 10n, 20n, 20n, 30n]);
  });
});
