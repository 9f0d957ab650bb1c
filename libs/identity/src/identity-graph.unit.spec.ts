import { randomUUID } from 'node:crypto';
import fc from 'fast-check';

import type { IdentityDecision, IdentityDecisionEvent } from './decisions';
import { isIdentityError } from './errors';
import { parseIdentifierOrThrow } from './identifier';
import { customerIdFor } from './ids';
import {
  buildIdentityGraph,
  cloneIdentityGraph,
  customerOf,
  evidenceOf,
  evolveIdentityGraph,
  hasObservation,
  identifiersOf,
  identityGraphInputs,
  initialIdentityGraph,
  partitionOf,
  refusedOf,
  applyRevocation,
  unmerge,
  withIdentityRules,
  type IdentityGraph,
  type Revocation,
} from './identity-graph';
import type { EvidenceSource, Observation } from './observation';
import { DEFAULT_IDENTITY_RULES, type IdentityRules } from './rules';

// Fresh ids per test: identifiers carry a per-test suffix so no test depends on another's names.
let run = '';
beforeEach(() => {
  run = randomUUID().slice(0, 8);
});
const id = (canonical: string): string => `${canonical}-${run}`;

const at = (minute: number): Date => new Date(Date.UTC(2026, 0, 1, 0, minute));

const observation = (
  eventId: string,
  minute: number,
  source: EvidenceSource,
  ...identifiers: string[]
): Observation => ({
  eventId,
  occurredAt: at(minute),
  source,
  identifiers: identifiers.map(parseIdentifierOrThrow),
});

interface Folded {
  state: IdentityGraph;
  decisions: IdentityDecisionEvent[];
}

/** Given these observations (in this arrival order)... */
const given = (observations: readonly Observation[], rules?: IdentityRules): Folded => {
  let state = initialIdentityGraph(rules);
  const decisions: IdentityDecisionEvent[] = [];
  for (const next of observations) {
    const step = evolveIdentityGraph(state, next);
    state = step.state;
    decisions.push(...step.decisions);
  }
  return { state, decisions };
};

const customerOrThrow = (state: IdentityGraph, identifier: string): string => {
  const customer = customerOf(state, identifier);
  if (customer === null) throw new Error(`${identifier} has no customer`);
  return customer;
};

const errorCodeOf = (action: () => unknown): string | null => {
  try {
    action();
    return null;
  } catch (error: unknown) {
    return isIdentityError(error) ? error.code : 'not an IdentityError';
  }
};

const canonicals = (state: IdentityGraph, customerId: string): string[] =>
  identifiersOf(state, customerId)
    .map((identifier) => `${identifier.kind}:${identifier.value}`)
    .sort();

describe('identity graph', () => {
  it('given an anonymous visitor, when the visitor identifies, then the anonymous history joins the user under the same customer id', () => {
    const anon = id('anonymousId:a');
    const user = id('userId:u');
    const email = `email:ada-${run}@example.com`;
    const { state: before } = given([
      observation('e1', 1, 'page', anon),
      observation('e2', 2, 'track', anon),
    ]);
    const anonymousCustomer = customerOrThrow(before, anon);

    const step = evolveIdentityGraph(before, observation('e3', 3, 'identify', user, anon, email));

    expect(customerOf(step.state, user)).toBe(anonymousCustomer);
    expect(customerOf(step.state, email)).toBe(anonymousCustomer);
    expect(anonymousCustomer).toBe(customerIdFor(anon));
    expect(canonicals(step.state, anonymousCustomer)).toEqual([anon, email, user].sort());
    expect(step.decisions.map((d) => d.type)).toEqual(['IdentifierLinked', 'IdentifierLinked']);
    expect(step.changes).toEqual(
      expect.arrayContaining([
        { identifier: parseIdentifierOrThrow(user), from: null, to: anonymousCustomer },
        { identifier: parseIdentifierOrThrow(email), from: null, to: anonymousCustomer },
      ]),
    );
    expect(evidenceOf(step.state, anonymousCustomer).map((d) => d.evidence.eventId)).toEqual([
      'e3',
      'e3',
    ]);
  });

  it('given a visitor and a known user, when an alias names both, then they are one customer', () => {
    const anon = id('anonymousId:a');
    const user = id('userId:u');
    const { state } = given([
      observation('e1', 1, 'page', anon),
      observation('e2', 2, 'track', user),
      observation('e3', 3, 'alias', user, anon),
    ]);
    const customer = customerOrThrow(state, anon);
    expect(customerOf(state, user)).toBe(customer);
    const [merge] = evidenceOf(state, customer);
    expect(merge).toMatchObject({
      type: 'CustomersMerged',
      survivorId: customerIdFor(anon),
      mergedId: customerIdFor(user),
      evidence: { eventId: 'e3', source: 'alias' },
    });
  });

  it('given an email and a phone seen on their own channels, when an identify names them, then every channel joins one customer', () => {
    const email = `email:ada-${run}@example.com`;
    const phone = '+447700900123';
    const user = id('userId:u');
    const anon = id('anonymousId:a');
    const { state, decisions } = given([
      observation('mail', 1, 'email', email),
      observation('sms', 2, 'phone', `phone:${phone}`),
      observation('web', 3, 'page', anon),
      observation('id', 4, 'identify', user, anon, email, `phone:${phone}`),
      observation('crm', 5, 'other', email, id('externalId:crm:7')),
    ]);
    const customer = customerOrThrow(state, email);
    // The email was seen first: its customer survives every merge.
    expect(customer).toBe(customerIdFor(email));
    for (const identifier of [user, anon, `phone:${phone}`, id('externalId:crm:7')]) {
      expect(customerOf(state, identifier)).toBe(customer);
    }
    expect(decisions.filter((d) => d.type === 'CustomersMerged')).toHaveLength(2);
  });

  it('given an email event alone, then it makes a customer but links nothing', () => {
    const email = `email:bob-${run}@example.com`;
    const { state, decisions } = given([observation('mail', 1, 'email', email)]);
    expect(customerOf(state, email)).toBe(customerIdFor(email));
    expect(decisions).toEqual([]);
  });

  it('knows which events it has observed, blocked-only ones included, also after a rebuild from its inputs', () => {
    const { state } = given([
      observation('seen', 1, 'page', id('anonymousId:a')),
      observation('blocked-only', 2, 'identify', 'userId:null'),
    ]);
    expect(hasObservation(state, 'seen')).toBe(true);
    expect(hasObservation(state, 'blocked-only')).toBe(true);
    expect(hasObservation(state, 'never')).toBe(false);
    const rebuilt = buildIdentityGraph(identityGraphInputs(state).observations, {
      rules: DEFAULT_IDENTITY_RULES,
      revocations: [],
    });
    expect(hasObservation(rebuilt, 'blocked-only')).toBe(true);
    expect(hasObservation(rebuilt, 'never')).toBe(false);
  });

  it('given placeholder values, when they appear with real identifiers, then they never link anyone', () => {
    const [a1, a2, a3, a4] = ['a1', 'a2', 'a3', 'a4'].map((name) => id(`anonymousId:${name}`));
    const { state } = given([
      observation('e1', 1, 'identify', 'userId:null', a1 as string),
      observation('e2', 2, 'identify', 'userId:NULL', a2 as string, 'email:test@test.com'),
      observation('e3', 3, 'identify', 'userId: Undefined ', a3 as string, 'externalId:crm:0'),
      observation('e4', 4, 'identify', 'userId:anonymous', a4 as string, 'email:noreply@shop.test'),
      observation('e5', 5, 'identify', a1 as string, 'email:test@test.com', 'phone:+15555555555'),
    ]);
    const customers = [a1, a2, a3, a4].map((a) => customerOrThrow(state, a as string));
    expect(new Set(customers).size).toBe(4);
    for (const blocked of [
      'userId:null',
      'userId:NULL',
      'email:test@test.com',
      'externalId:crm:0',
      'email:noreply@shop.test',
      'phone:+15555555555',
    ]) {
      expect(customerOf(state, blocked)).toBeNull();
    }
  });

  it('given a user with an anonymous id, when a second user id claims it, then the merge is refused whole and recorded with its reason', () => {
    const [u1, u2, anon, newEmail] = [
      id('userId:u1'),
      id('userId:u2'),
      id('anonymousId:shared'),
      `email:u2-${run}@example.com`,
    ];
    const { state: before } = given([
      observation('e1', 1, 'identify', u1, anon),
      observation('e2', 2, 'track', u2),
    ]);
    const first = customerOrThrow(before, u1);
    const second = customerOrThrow(before, u2);
    const snapshot = cloneIdentityGraph(before);

    const step = evolveIdentityGraph(before, observation('e3', 3, 'identify', u2, anon, newEmail));

    const [refused, linked] = step.decisions;
    expect(refused).toMatchObject({
      type: 'MergeRefused',
      customerId: second,
      otherCustomerId: first,
      reason: { code: 'LIMIT_EXCEEDED', countKey: 'userId', limit: 1 },
      evidence: { eventId: 'e3', source: 'identify' },
    });
    // The other identifier of the event is a merge of its own and is allowed.
    expect(linked).toMatchObject({ type: 'IdentifierLinked', customerId: second });
    expect(canonicals(step.state, first)).toEqual(canonicals(snapshot, first));
    expect(canonicals(step.state, second)).toEqual([newEmail, u2].sort());
    expect(refusedOf(step.state, first)).toEqual([refused]);
    expect(refusedOf(step.state, second)).toEqual([refused]);
  });

  it('given the same observations in another order, then the older user id keeps the contested anonymous id', () => {
    const [u1, u2, anon] = [id('userId:u1'), id('userId:u2'), id('anonymousId:shared')];
    const observations = [
      observation('e1', 1, 'identify', u1, anon),
      observation('e2', 2, 'identify', u2, anon),
    ];
    const inOrder = given(observations).state;
    const reversed = given([...observations].reverse()).state;
    expect(customerOf(reversed, anon)).toBe(customerOf(reversed, u1));
    expect(partitionOf(reversed)).toEqual(partitionOf(inOrder));
  });

  it('given a late event that saw an identifier earlier, then the customer id moves to it and the change is reported', () => {
    const [user, anon] = [id('userId:u'), id('anonymousId:a')];
    const { state } = given([observation('e2', 2, 'identify', user, anon)]);
    expect(customerOf(state, user)).toBe(customerIdFor(user));

    const step = evolveIdentityGraph(state, observation('e1', 1, 'page', anon));

    expect(customerOf(step.state, user)).toBe(customerIdFor(anon));
    expect(step.changes).toHaveLength(2);
    // The anonymous id, now first, is the customer the user id joins.
    expect(step.decisions).toEqual([
      expect.objectContaining({ type: 'DecisionWithdrawn' }),
      expect.objectContaining({ type: 'IdentifierLinked', customerId: customerIdFor(anon) }),
    ]);
  });

  it('given a link, when an earlier sighting of the same pair arrives late, then the evidence is the earlier event', () => {
    const [user, anon] = [id('userId:u'), id('anonymousId:a')];
    const { state } = given([
      observation('seen-a', 1, 'page', anon),
      observation('seen-u', 2, 'track', user),
      observation('link-late', 5, 'identify', user, anon),
    ]);
    const step = evolveIdentityGraph(state, observation('link-early', 3, 'track', user, anon));
    const customer = customerOrThrow(step.state, user);
    expect(evidenceOf(step.state, customer).map((d) => d.evidence.eventId)).toEqual(['link-early']);
    expect(step.decisions.map((d) => d.type)).toEqual(['DecisionWithdrawn', 'CustomersMerged']);
  });

  it('given a known pair, when a later repeat of it arrives late, then nothing changes', () => {
    const [user, anon] = [id('userId:u'), id('anonymousId:a')];
    const { state } = given([
      observation('link', 1, 'identify', user, anon),
      observation('page-3', 3, 'page', user, anon),
    ]);
    const step = evolveIdentityGraph(state, observation('page-2', 2, 'page', user, anon));
    expect(step.decisions).toEqual([]);
    expect(step.changes).toEqual([]);
  });

  it('given the same event twice, then the second is a no-op', () => {
    const first = observation('e1', 1, 'identify', id('userId:u'), id('anonymousId:a'));
    const { state } = given([first]);
    const again = evolveIdentityGraph(state, first);
    expect(again.decisions).toEqual([]);
    expect(again.changes).toEqual([]);
  });

  describe('unmerge', () => {
    const scenario = () => {
      const x = [id('userId:x'), id('anonymousId:x1'), `email:x-${run}@example.com`];
      const y = [id('anonymousId:y1'), id('anonymousId:y2'), `phone:+447700900456`];
      const history = [
        observation('x1', 1, 'identify', ...x),
        observation('y1', 2, 'page', y[0] as string, y[1] as string),
        observation('y2', 3, 'phone', y[2] as string, y[0] as string),
      ];
      const merge = observation('m', 10, 'identify', x[0] as string, y[1] as string);
      return { x, y, history, merge };
    };

    it('given a merge, when an admin undoes its evidence, then both customers are restored exactly', () => {
      const { x, y, history, merge } = scenario();
      const { state: separate } = given(history);
      const expected = partitionOf(separate);
      const merged = evolveIdentityGraph(separate, merge);
      expect(customerOf(merged.state, y[0] as string)).toBe(
        customerOf(merged.state, x[0] as string),
      );

      const undone = unmerge(merged.state, { eventId: 'm' });

      expect(partitionOf(undone.state)).toEqual(expected);
      expect(undone.revocation).toEqual({ kind: 'evidence', eventId: 'm' });
      expect(undone.decisions).toHaveLength(1);
      expect(undone.decisions[0]).toMatchObject({
        type: 'DecisionWithdrawn',
        decision: { type: 'CustomersMerged', evidence: { eventId: 'm' } },
      });
      // A replay of the same inputs keeps it undone.
      const inputs = identityGraphInputs(undone.state);
      expect(partitionOf(buildIdentityGraph(inputs.observations, inputs))).toEqual(expected);
    });

    it('given a merge, when an admin separates its link, then later evidence cannot join the pair again', () => {
      const { x, y, history, merge } = scenario();
      const { state: separate } = given(history);
      const expected = partitionOf(separate);
      const merged = evolveIdentityGraph(separate, merge);
      const [decision] = merged.decisions;
      if (decision?.type !== 'CustomersMerged') throw new Error('expected a merge');

      const undone = unmerge(merged.state, { linkId: decision.link.linkId });
      expect(partitionOf(undone.state)).toEqual(expected);

      const again = evolveIdentityGraph(
        undone.state,
        observation('later', 20, 'track', x[0] as string, y[0] as string),
      );
      expect(again.decisions).toHaveLength(1);
      expect(again.decisions[0]).toMatchObject({
        type: 'MergeRefused',
        reason: { code: 'UNMERGED_BY_ADMIN', linkId: decision.link.linkId },
      });
      expect(customerOf(again.state, y[0] as string)).not.toBe(
        customerOf(again.state, x[0] as string),
      );
    });

    it('refuses to undo what the graph never saw', () => {
      const { state } = given([observation('e1', 1, 'page', id('anonymousId:a'))]);
      expect(errorCodeOf(() => unmerge(state, { eventId: 'nope' }))).toBe('UNKNOWN_MERGE');
      // The refused command did not consume the graph.
      expect(customerOf(state, id('anonymousId:a'))).not.toBeNull();
    });
  });

  it('given stale state, when it is used after a step, then it fails loudly', () => {
    const state = initialIdentityGraph();
    evolveIdentityGraph(state, observation('e1', 1, 'page', id('anonymousId:a')));
    expect(errorCodeOf(() => customerOf(state, id('anonymousId:a')))).toBe('STALE_STATE');
  });

  it('given observations, when the rules change, then the replay gives the graph of the new rules', () => {
    const [u1, u2, anon] = [id('userId:u1'), id('userId:u2'), id('anonymousId:shared')];
    const observations = [
      observation('e1', 1, 'identify', u1, anon),
      observation('e2', 2, 'identify', u2, anon, 'userId:guest'),
    ];
    const { state } = given(observations);
    expect(customerOf(state, u2)).not.toBe(customerOf(state, u1));

    const rules: IdentityRules = {
      ...DEFAULT_IDENTITY_RULES,
      blockedValues: DEFAULT_IDENTITY_RULES.blockedValues.filter((value) => value !== 'guest'),
      limits: { ...DEFAULT_IDENTITY_RULES.limits, userId: 3 },
    };
    const step = withIdentityRules(state, rules);

    expect(customerOf(step.state, u2)).toBe(customerOf(step.state, u1));
    expect(customerOf(step.state, 'userId:guest')).toBe(customerOf(step.state, u1));
    expect(partitionOf(step.state)).toEqual(
      partitionOf(buildIdentityGraph(observations, { rules })),
    );
    expect(step.decisions.map((d) => d.type)).toEqual([
      'DecisionWithdrawn',
      'IdentifierLinked',
      'IdentifierLinked',
    ]);
  });

  it('applies the per-system external id limit and the anonymous id limit', () => {
    const user = id('userId:u');
    const rules: IdentityRules = {
      ...DEFAULT_IDENTITY_RULES,
      limits: { ...DEFAULT_IDENTITY_RULES.limits, anonymousId: 2 },
    };
    const { state } = given(
      [
        observation('e1', 1, 'identify', user, id('externalId:crm:1'), id('externalId:erp:9')),
        observation('e2', 2, 'identify', user, id('externalId:crm:2')),
        observation('e3', 3, 'track', user, id('anonymousId:a1')),
        observation('e4', 4, 'track', user, id('anonymousId:a2')),
        observation('e5', 5, 'track', user, id('anonymousId:a3')),
      ],
      rules,
    );
    const customer = customerOrThrow(state, user);
    expect(canonicals(state, customer)).toEqual(
      [
        user,
        id('externalId:crm:1'),
        id('externalId:erp:9'),
        id('anonymousId:a1'),
        id('anonymousId:a2'),
      ].sort(),
    );
    expect(refusedOf(state, customer).map((r) => r.reason)).toEqual([
      expect.objectContaining({ countKey: 'externalId:crm', limit: 1 }),
      expect.objectContaining({ countKey: 'anonymousId', limit: 2 }),
    ]);
  });

  describe('properties', () => {
    // A small universe so that observations collide: shared anonymous ids, two user ids on one
    // device, placeholders, tight limits.
    const universe = [
      'userId:u1',
      'userId:u2',
      'userId:u3',
      'userId:null',
      'anonymousId:a1',
      'anonymousId:a2',
      'anonymousId:a3',
      'anonymousId:a4',
      'anonymousId:a5',
      'email:ada@example.com',
      'email:bob@example.com',
      'email:test@test.com',
      'phone:+447700900001',
      'phone:+447700900002',
      'externalId:crm:1',
      'externalId:crm:2',
    ];
    const tightRules: IdentityRules = {
      ...DEFAULT_IDENTITY_RULES,
      limits: { userId: 1, anonymousId: 2, email: 1, phone: 1, externalIdPerSystem: 1 },
    };
    const arbitraryObservations = fc
      .array(
        fc.record({
          minute: fc.integer({ min: 0, max: 6 }),
          source: fc.constantFrom<EvidenceSource>('identify', 'alias', 'track', 'email', 'other'),
          identifiers: fc.uniqueArray(fc.constantFrom(...universe), { minLength: 1, maxLength: 4 }),
        }),
        { minLength: 1, maxLength: 25 },
      )
      .map((items) =>
        // Event ids are unique per observation; their order is unrelated to time.
        items.map((item, index) =>
          observation(
            `ev-${(index * 7919) % 101}-${index}`,
            item.minute,
            item.source,
            ...item.identifiers,
          ),
        ),
      );
    /** The arrival order: a permutation with some events delivered more than once. */
    const arrivals = (observations: Observation[]) =>
      fc
        .tuple(
          fc.shuffledSubarray(observations, {
            minLength: observations.length,
            maxLength: observations.length,
          }),
          fc.array(fc.constantFrom(...observations), { maxLength: 5 }),
          fc.array(fc.nat(), { maxLength: 5 }),
        )
        .map(([permutation, duplicates, positions]) => {
          const order = [...permutation];
          duplicates.forEach((duplicate, i) =>
            order.splice((positions[i] ?? 0) % (order.length + 1), 0, duplicate),
          );
          return order;
        });

    const fullView = (state: IdentityGraph) =>
      partitionOf(state).map((customer) => ({
        ...customer,
        evidence: evidenceOf(state, customer.customerId),
        refused: refusedOf(state, customer.customerId),
      }));

    it('any arrival order, with duplicates and late events, gives the same customers, ids and evidence', () => {
      fc.assert(
        fc.property(
          arbitraryObservations.chain((observations) =>
            fc.tuple(fc.constant(observations), arrivals(observations)),
          ),
          fc.constantFrom(DEFAULT_IDENTITY_RULES, tightRules),
          ([observations, order], rules) => {
            const expected = fullView(buildIdentityGraph(observations, { rules }));
            const { state, decisions } = given(order, rules);
            expect(fullView(state)).toEqual(expected);

            // The decisions a consumer stored, minus those withdrawn, are the graph's decisions.
            const kept = new Map<string, IdentityDecision>();
            for (const decision of decisions) {
              if (decision.type === 'DecisionWithdrawn') {
                expect(kept.delete(JSON.stringify(decision.decision))).toBe(true);
              } else kept.set(JSON.stringify(decision), decision);
            }
            const graphDecisions = new Set(
              expected.flatMap((c) => [...c.evidence, ...c.refused].map((d) => JSON.stringify(d))),
            );
            expect(new Set(kept.keys())).toEqual(graphDecisions);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('the changes reported step by step add up to the final customer of every identifier', () => {
      fc.assert(
        fc.property(
          arbitraryObservations.chain((observations) =>
            fc.tuple(fc.constant(observations), arrivals(observations)),
          ),
          ([, order]) => {
            let state = initialIdentityGraph(tightRules);
            const customers = new Map<string, string | null>();
            for (const next of order) {
              const step = evolveIdentityGraph(state, next);
              state = step.state;
              for (const change of step.changes) {
                const key = `${change.identifier.kind}:${change.identifier.value}`;
                expect(customers.get(key) ?? null).toBe(change.from);
                customers.set(key, change.to);
              }
            }
            for (const identifier of universe) {
              expect(customers.get(identifier) ?? null).toBe(customerOf(state, identifier));
            }
          },
        ),
        { numRuns: 100 },
      );
    });

    it('revocations interleaved at any point give the graph of the inputs', () => {
      fc.assert(
        fc.property(
          arbitraryObservations.chain((observations) =>
            fc.tuple(
              fc.constant(observations),
              arrivals(observations),
              fc.array(
                fc.oneof(
                  fc
                    .constantFrom(...observations)
                    .map((o): Revocation => ({ kind: 'evidence', eventId: o.eventId })),
                  fc
                    .uniqueArray(fc.constantFrom(...universe), { minLength: 2, maxLength: 2 })
                    .map(([a, b]): Revocation => ({
                      kind: 'link',
                      between: [
                        parseIdentifierOrThrow(a as string),
                        parseIdentifierOrThrow(b as string),
                      ],
                    })),
                ),
                { maxLength: 3 },
              ),
              fc.array(fc.nat(), { maxLength: 3 }),
            ),
          ),
          ([observations, order, revocations, positions]) => {
            const steps: (Observation | Revocation)[] = [...order];
            revocations.forEach((revocation, i) =>
              steps.splice((positions[i] ?? 0) % (steps.length + 1), 0, revocation),
            );
            let state = initialIdentityGraph(tightRules);
            for (const step of steps) {
              state =
                'kind' in step
                  ? applyRevocation(state, step).state
                  : evolveIdentityGraph(state, step).state;
            }
            const expected = buildIdentityGraph(observations, { rules: tightRules, revocations });
            expect(fullView(state)).toEqual(fullView(expected));
          },
        ),
        { numRuns: 100 },
      );
    });

    it('merge then unmerge of the evidence restores the graph before the merge', () => {
      fc.assert(
        fc.property(
          arbitraryObservations,
          fc.uniqueArray(fc.constantFrom(...universe), { minLength: 2, maxLength: 3 }),
          (history, merging) => {
            const { state } = given(history, tightRules);
            const before = partitionOf(state);
            // The merging event names only identifiers the graph already knows.
            const known = merging.filter((identifier) => customerOf(state, identifier) !== null);
            const merge = observation('merge', 60, 'identify', ...known);
            const undone = unmerge(evolveIdentityGraph(state, merge).state, { eventId: 'merge' });
            expect(partitionOf(undone.state)).toEqual(before);
          },
        ),
        { numRuns: 100 },
      );
    });
  });
});
