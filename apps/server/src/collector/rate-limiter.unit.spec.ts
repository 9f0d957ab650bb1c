import { RateLimiter } from './rate-limiter';

describe('rate limiter', () => {
  it('allows a burst, then refuses with the seconds to wait, then allows again as time passes', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now, 2);
    expect(limiter.take('key', 150, 100)).toBe(0);
    expect(limiter.take('key', 50, 100)).toBe(0);
    // The bucket (200) is empty now.
    expect(limiter.take('key', 100, 100)).toBe(1);
    now += 1_000;
    expect(limiter.take('key', 100, 100)).toBe(0);
  });

  it('keeps one bucket per key', () => {
    const limiter = new RateLimiter(() => 0, 1);
    expect(limiter.take('a', 10, 10)).toBe(0);
    expect(limiter.take('a', 1, 10)).toBeGreaterThan(0);
    expect(limiter.take('b', 10, 10)).toBe(0);
  });
});
