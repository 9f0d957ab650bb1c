/**
 * A position in the global log. Ordering is by (transactionId, position): a sequence number
 * alone can be overtaken by a transaction that took a lower number and committed later.
 */
export interface GlobalCheckpoint {
  readonly transactionId: bigint;
  readonly position: bigint;
}

export const START: GlobalCheckpoint = Object.freeze({ transactionId: 0n, position: 0n });

export function compareCheckpoints(a: GlobalCheckpoint, b: GlobalCheckpoint): number {
  if (a.transactionId !== b.transactionId) return a.transactionId < b.transactionId ? -1 : 1;
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return 0;
}

/** Text form for logs, metrics and APIs: `<transactionId>/<position>`. */
export function formatCheckpoint(c: GlobalCheckpoint): string {
  return `${c.transactionId}/${c.position}`;
}

export function parseCheckpointOrThrow(text: string): GlobalCheckpoint {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match?.[1] || !match[2]) {
    throw new Error(`Invalid checkpoint "${text}": expected <transactionId>/<position>`);
  }
  return { transactionId: BigInt(match[1]), position: BigInt(match[2]) };
}
