import { type GlobalCheckpoint, START } from './checkpoint';
import { EventStoreUnavailableError } from './errors';
import type { ReadAllResult, SubscribeToAllOptions, Subscription } from './event-store.port';

export interface PollingOptions {
  /** Wait between polls once caught up. */
  readonly idleMs: number;
  /** Longest wait between retries while the database is unreachable. */
  readonly maxRetryMs: number;
}

/**
 * Reads the global log page by page and hands each page to onBatch, waiting for it. Polls
 * again at once after a full page, after `idleMs` otherwise. An unreachable store is retried
 * with backoff (a projector outlives a database restart); any other error ends it via `done`.
 */
export class PollingSubscription implements Subscription {
  readonly done: Promise<void>;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    read: (after: GlobalCheckpoint, maxCount: number) => Promise<ReadAllResult>,
    options: SubscribeToAllOptions,
    polling: PollingOptions,
  ) {
    this.done = this.run(read, options, polling);
    // Callers who only call stop() must not get an unhandled rejection.
    this.done.catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.done.catch(() => undefined);
  }

  private async run(
    read: (after: GlobalCheckpoint, maxCount: number) => Promise<ReadAllResult>,
    options: SubscribeToAllOptions,
    polling: PollingOptions,
  ): Promise<void> {
    const batchSize = options.batchSize ?? 100;
    let after = options.after ?? START;
    let failures = 0;
    while (!this.stopped) {
      let page: ReadAllResult;
      try {
        page = await read(after, batchSize);
        failures = 0;
      } catch (error) {
        if (!(error instanceof EventStoreUnavailableError)) throw error;
        failures++;
        await this.pause(Math.min(polling.idleMs * 2 ** failures, polling.maxRetryMs));
        continue;
      }
      if (page.events.length > 0) {
        await options.onBatch(page.events, page.checkpoint);
        after = page.checkpoint;
      }
      if (page.events.length < batchSize) await this.pause(polling.idleMs);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
