import { TokenBucket } from './token-bucket';

/** A clock that only moves when the bucket sleeps: the test decides what time it is. */
function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: (ms: number) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => (now += ms),
    sleeps,
  };
}

describe('TokenBucket', () => {
  it('starts empty: the first take waits for its tokens', async () => {
    const time = fakeTime();
    const bucket = new TokenBucket(100, 20, time.now, time.sleep);
    await bucket.take(20);
    expect(time.now()).toBe(200);
  });

  it('never lets more than rate × elapsed through over a long run', async () => {
    const time = fakeTime();
    const bucket = new TokenBucket(250, 50, time.now, time.sleep);
    let taken = 0;
    for (let i = 0; i < 200; i += 1) {
      const count = 1 + (i % 50);
      await bucket.take(count);
      taken += count;
      expect(taken).toBeLessThanOrEqual((250 * time.now()) / 1000 + 1e-9);
    }
    // And it does not hold back either: within one chunk of the exact rate.
    expect(taken).toBeGreaterThanOrEqual((250 * time.now()) / 1000 - 50);
  });

  it('after a pause allows a burst of at most its capacity', async () => {
    const time = fakeTime();
    const bucket = new TokenBucket(10, 5, time.now, time.sleep);
    time.advance(60_000);
    await bucket.take(5);
    expect(time.sleeps).toEqual([]);
    await bucket.take(1);
    expect(time.sleeps).toEqual([100]);
  });

  it('refuses a take larger than the bucket and a rate that is not positive', async () => {
    const bucket = new TokenBucket(10, 5);
    await expect(bucket.take(6)).rejects.toThrow(RangeError);
    expect(() => new TokenBucket(0, 5)).toThrow(RangeError);
  });
});
