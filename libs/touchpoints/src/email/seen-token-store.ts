/**
 * Remembers webhook tokens already used, to refuse a replayed request. Implementations over a
 * shared store (PostgreSQL, Redis) must make `claim` atomic across instances.
 */
export interface SeenTokenStore {
  /** Records the token until `expiresAt`; resolves false when it was already recorded (a replay). */
  claim(token: string, expiresAt: Date): Promise<boolean>;
  /** Forgets a claimed token: call it when the request could not be stored, so the provider's retry is accepted. */
  release(token: string): Promise<void>;
}

/**
 * Single-process store. Bounded: past `maxEntries` the oldest claims are forgotten first, which
 * can only let a very old replay through, and a replay yields the same event ids (stored once).
 */
export class InMemorySeenTokenStore implements SeenTokenStore {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly clock: () => Date,
    private readonly maxEntries = 100_000,
  ) {}

  claim(token: string, expiresAt: Date): Promise<boolean> {
    const now = this.clock().getTime();
    const known = this.expiries.get(token);
    if (known !== undefined && known > now) return Promise.resolve(false);
    this.expiries.delete(token);
    this.evict(now);
    this.expiries.set(token, expiresAt.getTime());
    return Promise.resolve(true);
  }

  release(token: string): Promise<void> {
    this.expiries.delete(token);
    return Promise.resolve();
  }

  get size(): number {
    return this.expiries.size;
  }

  private evict(now: number): void {
    for (const [token, expiry] of this.expiries) {
      if (this.expiries.size < this.maxEntries && expiry > now) break;
      this.expiries.delete(token);
    }
  }
}
