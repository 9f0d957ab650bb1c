import {
  boundQueue,
  chunk,
  jsonBytes,
  outcomeOf,
  parseQueue,
  retryDelayMs,
  withoutIds,
} from './queue';
import type { SegmentMessage } from './types';

const message = (id: string, extra: Record<string, unknown> = {}): SegmentMessage => ({
  type: 'track',
  messageId: id,
  anonymousId: 'a-1',
  userId: null,
  event: 'Clicked',
  properties: extra,
  context: {},
  timestamp: '2026-11-01T10:00:00.000Z',
});

describe('the retry queue', () => {
  it('keeps the newest messages when it overflows', () => {
    const queue = ['m1', 'm2', 'm3', 'm4'].map((id) => message(id));
    expect(boundQueue(queue, 2).map((m) => m.messageId)).toEqual(['m3', 'm4']);
    expect(boundQueue(queue, 10)).toHaveLength(4);
    expect(boundQueue(queue, 0)).toEqual([]);
    expect(boundQueue(queue, 2)).not.toBe(queue);
  });

  it('removes answered messages by id, wherever they are', () => {
    const queue = ['m1', 'm2', 'm3'].map((id) => message(id));
    expect(withoutIds(queue, ['m3', 'm1']).map((m) => m.messageId)).toEqual(['m2']);
  });

  it('splits into batches by count and by bytes; an oversized message gets its own batch', () => {
    const small = ['a', 'b', 'c', 'd', 'e'].map((id) => message(id));
    expect(chunk(small, 2, 1_000_000).map((b) => b.map((m) => m.messageId))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    const size = jsonBytes(small[0]) + 1;
    expect(chunk(small, 100, size * 2).map((b) => b.length)).toEqual([2, 2, 1]);
    const huge = message('huge', { text: 'x'.repeat(5_000) });
    expect(chunk([small[0]!, huge, small[1]!], 100, 1_000).map((b) => b.length)).toEqual([1, 1, 1]);
    expect(chunk([], 10, 1000)).toEqual([]);
  });

  it('counts bytes, not characters', () => {
    expect(jsonBytes('é')).toBe(4); // two quotes and a two-byte character
  });

  it('reads back only entries that look like messages, and nothing from garbage', () => {
    const stored = JSON.stringify([message('m1'), 42, null, { no: 'id' }]);
    expect(parseQueue(stored).map((m) => m.messageId)).toEqual(['m1']);
    expect(parseQueue('{"not":"an array"}')).toEqual([]);
    expect(parseQueue('not json')).toEqual([]);
    expect(parseQueue(null)).toEqual([]);
  });
});

describe('delivery decisions', () => {
  it('retries on no answer, 429 and 5xx; drops other 4xx; done on 2xx', () => {
    expect([200, 204, 0, 429, 500, 503, 400, 401, 413].map(outcomeOf)).toEqual([
      'delivered',
      'delivered',
      'retry',
      'retry',
      'retry',
      'retry',
      'drop',
      'drop',
      'drop',
    ]);
  });

  it('backs off exponentially from about a second to at most a minute, with jitter', () => {
    expect(retryDelayMs(1, 1)).toBe(1_000);
    expect(retryDelayMs(1, 0)).toBe(500);
    expect(retryDelayMs(3, 1)).toBe(4_000);
    expect(retryDelayMs(20, 1)).toBe(60_000);
    expect(retryDelayMs(1_000, 0.5)).toBe(45_000);
  });
});
