import type { SegmentMessage } from './types';

/** Bodies sent while the page unloads must fit the browser's 64 KB keepalive budget. */
export const BEACON_MAX_BYTES = 60_000;
/** The collector refuses batches over 500 KB; stay well under it. */
export const BATCH_MAX_BYTES = 400_000;

/** The newest `max` messages: when the queue overflows, the oldest are dropped. */
export function boundQueue<T>(queue: readonly T[], max: number): T[] {
  return queue.length > max ? queue.slice(queue.length - Math.max(0, max)) : queue.slice();
}

/** The queue without the messages whose ids are given (delivered, or refused for good). */
export function withoutIds(
  queue: readonly SegmentMessage[],
  ids: readonly string[],
): SegmentMessage[] {
  return queue.filter((message) => ids.indexOf(message.messageId) < 0);
}

/**
 * Split messages into consecutive batches of at most `maxCount` messages and `maxBytes` of JSON
 * (a single message over the limit still gets a batch of its own: the collector answers for it).
 */
export function chunk(
  messages: readonly SegmentMessage[],
  maxCount: number,
  maxBytes: number,
): SegmentMessage[][] {
  const batches: SegmentMessage[][] = [];
  let current: SegmentMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = jsonBytes(message) + 1;
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** UTF-8 size of a value's JSON. */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value));
}

export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * Wait before retry `attempt` (1, 2, ...): exponential from 1 s, capped at 60 s, with jitter so
 * many pages that lost the collector at once do not come back at once.
 */
export function retryDelayMs(attempt: number, random: number): number {
  const base = Math.min(60_000, 1_000 * Math.pow(2, Math.max(0, attempt - 1)));
  return Math.round(base * (0.5 + random / 2));
}

/** What to do with a batch after the collector answered `status` (0: no answer at all). */
export function outcomeOf(status: number): 'delivered' | 'retry' | 'drop' {
  if (status >= 200 && status < 300) return 'delivered';
  // 429 and 5xx are the collector saying "later"; no answer means the network failed.
  if (status === 0 || status === 429 || status >= 500) return 'retry';
  // Any other 4xx (bad key, refused body) will never succeed: resending would loop forever.
  return 'drop';
}

/** Parse a stored queue, keeping only entries that look like messages. */
export function parseQueue(text: string | null): SegmentMessage[] {
  if (!text) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value)
      ? (value as unknown[]).filter(
          (m): m is SegmentMessage =>
            typeof m === 'object' &&
            m !== null &&
            typeof (m as SegmentMessage).messageId === 'string',
        )
      : [];
  } catch {
    return [];
  }
}
