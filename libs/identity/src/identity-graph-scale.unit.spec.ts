import {
  customerOf,
  evolveIdentityGraph,
  identityGraphStats,
  initialIdentityGraph,
} from './identity-graph';
import type { Observation } from './observation';

// A sanity check that the graph handles volume, not a benchmark: no time is asserted (the
// figures measured are in docs/identity.md). 100,000 observations over 50,000 customers.
const CUSTOMERS = 50_000;

/** Deterministic pseudo-random numbers (LCG), so a failure can be reproduced. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function observations(): Observation[] {
  const next = random(42);
  const day = 86_400_000;
  const start = Date.UTC(2026, 0, 1);
  const result: Observation[] = [];
  for (let i = 0; i < CUSTOMERS; i += 1) {
    const first = start + Math.floor(next() * 30 * day);
    const second = first + Math.floor(next() * day);
    if (i % 2 === 0) {
      // A web visitor who identifies.
      result.push({
        eventId: `page-${i}`,
        occurredAt: new Date(first),
        source: 'page',
        identifiers: [{ kind: 'anonymousId', value: `anon-${i}` }],
      });
      result.push({
        eventId: `identify-${i}`,
        occurredAt: new Date(second),
        source: 'identify',
        identifiers: [
          { kind: 'userId', value: `user-${i}` },
          { kind: 'anonymousId', value: `anon-${i}` },
          { kind: 'email', value: `c${i}@example.com` },
        ],
      });
    } else {
      // An email recipient who later calls, known to the CRM.
      result.push({
        eventId: `mail-${i}`,
        occurredAt: new Date(first),
        source: 'email',
        identifiers: [{ kind: 'email', value: `c${i}@example.com` }],
      });
      result.push({
        eventId: `call-${i}`,
        occurredAt: new Date(second),
        source: 'other',
        identifiers: [
          { kind: 'email', value: `c${i}@example.com` },
          { kind: 'phone', value: `+4477009${String(i).padStart(5, '0')}` },
          { kind: 'externalId', value: `crm:${i}` },
        ],
      });
    }
  }
  return result;
}

function fold(order: readonly Observation[]) {
  let state = initialIdentityGraph();
  for (const observation of order) state = evolveIdentityGraph(state, observation).state;
  return state;
}

describe('identity graph at volume', () => {
  const all = observations();

  it('folds 100,000 observations in event-time order into 50,000 customers', () => {
    const sorted = [...all].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
    const state = fold(sorted);
    expect(identityGraphStats(state)).toEqual({
      observations: 100_000,
      identifiers: 150_000,
      customers: CUSTOMERS,
      revocations: 0,
    });
    expect(customerOf(state, 'userId:user-4242')).toBe(customerOf(state, 'anonymousId:anon-4242'));
    expect(customerOf(state, 'externalId:crm:4243')).toBe(
      customerOf(state, 'email:c4243@example.com'),
    );
  });

  it('folds the same observations shuffled (late arrivals everywhere) into the same customers', () => {
    const next = random(7);
    const shuffled = [...all];
    for (let i = shuffled.length - 1; i > 0; i -= 1) {
      const j = Math.floor(next() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j] as Observation, shuffled[i] as Observation];
    }
    const state = fold(shuffled);
    expect(identityGraphStats(state).customers).toBe(CUSTOMERS);
    expect(customerOf(state, 'userId:user-4242')).toBe(customerOf(state, 'anonymousId:anon-4242'));
  });
});
