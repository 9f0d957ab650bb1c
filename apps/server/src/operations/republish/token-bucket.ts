/**
 * A token bucket: `ratePerSecond` tokens a second, at most `capacity` saved up. It starts
 * empty, so the tokens taken never exceed the rate times the time since it was made, and a
 * pause (a slow broker) allows a burst of at most `capacity` afterwards.
 */
export class TokenBucket {
  private tokens = 0;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError('the rate must be above zero');
    if (!(capacity >= 1)) throw new RangeError('the capacity must be at least one token');
    this.last = this.now();
  }

  /** Waits until `count` tokens are there, then takes them. */
  async take(count: number): Promise<void> {
    if (count > this.capacity) {
      throw new RangeError(`cannot take ${count} tokens from a bucket of ${this.capacity}`);
    }
    for (;;) {
      const now = this.now();
      this.tokens = Math.min(
        this.capacity,
        this.tokens + ((now - this.last) / 1000) * this.ratePerSecond,
      );
      this.last = now;
      if (this.tokens >= count) {
        this.tokens -= count;
        return;
      }
      await this.sleep(Math.ceil(((count - this.tokens) / this.ratePerSecond) * 1000));
    }
  }
}
