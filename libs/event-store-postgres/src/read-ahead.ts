import {
  compareCheckpoints,
  type GlobalCheckpoint,
  type ReadAllResult,
} from '@touchline/event-store';

export type PageReader = (after: GlobalCheckpoint, maxCount: number) => Promise<ReadAllResult>;

/**
 * A page reader with one page of read-ahead, for a subscription. After a full page (the
 * subscriber is behind the head) it starts reading the next one at once, so PostgreSQL reads it
 * while the subscriber applies the current one instead of after. It is only a cache keyed by the
 * checkpoint the page starts after: the subscription still asks for the page after the checkpoint
 * it has reached, so the order, the pages and the checkpoints are those of plain reads (each page
 * is the log as it was when that read ran). A read-ahead that failed is read again.
 */
export function readingAhead(read: PageReader): PageReader {
  let ahead: { after: GlobalCheckpoint; maxCount: number; page: Promise<ReadAllResult> } | null =
    null;
  return async (after, maxCount) => {
    const prefetched =
      ahead !== null && ahead.maxCount === maxCount && compareCheckpoints(ahead.after, after) === 0
        ? ahead.page
        : null;
    ahead = null;
    let page: ReadAllResult;
    try {
      page = await (prefetched ?? read(after, maxCount));
    } catch (error) {
      if (prefetched === null) throw error;
      page = await read(after, maxCount);
    }
    if (page.events.length >= maxCount && maxCount > 0) {
      const next = read(page.checkpoint, maxCount);
      // Nobody may ask for it (the subscription stopped): never an unhandled rejection.
      next.catch(() => undefined);
      ahead = { after: page.checkpoint, maxCount, page: next };
    }
    return page;
  };
}
