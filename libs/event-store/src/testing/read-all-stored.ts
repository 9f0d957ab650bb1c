import { type GlobalCheckpoint, START } from '../checkpoint';
import type { EventStore, RecordedEvent } from '../event-store.port';

/**
 * The first `count` events of the global log, read from the start, waiting while fewer are
 * readable. A spec that has just stored `count` events reads them all this way: on PostgreSQL a
 * write transaction anywhere on the server (another spec's, in another Jest worker and another
 * database) holds every readAll back until it ends, since transaction ids are server-wide.
 */
export async function readAllStored(
  store: EventStore,
  count: number,
  timeoutMs = 20_000,
): Promise<{ events: RecordedEvent[]; checkpoint: GlobalCheckpoint }> {
  const deadline = Date.now() + timeoutMs;
  const events: RecordedEvent[] = [];
  let after = START;
  while (events.length < count) {
    const page = await store.readAll({ after, maxCount: count - events.length });
    events.push(...page.events);
    after = page.checkpoint;
    if (page.events.length === 0) {
      if (Date.now() > deadline)
        throw new Error(`only ${events.length} of ${count} stored events became readable`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return { events, checkpoint: after };
}
