/**
 * Token bucket per write key, in this process: `ratePerSecond` events a second on average, with
 * bursts up to `burstSeconds` worth. Several collector instances each enforce it, so the
 * cluster-wide limit is the per-instance limit times the instances (documented).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly burstSeconds = 2,
  ) {}

  /** Take `cost` tokens; returns 0 when allowed, otherwise the seconds to wait before retrying. */
  take(key: string, cost: number, ratePerSecond: number): number {
    const capacity = ratePerSecond * this.burstSeconds;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: capacity, updatedAt: now };
    bucket.tokens = Math.min(
      capacity,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * ratePerSecond,
    );
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    // A request larger than the whole bucket could never pass: let it through when the bucket is full.
    const needed = Math.min(cost, capacity);
    if (bucket.tokens >= needed) {
      bucket.tokens -= cost;
      return 0;
    }
    return Math.max(1, Math.ceil((needed - bucket.tokens) / ratePerSecond));
  }
}
