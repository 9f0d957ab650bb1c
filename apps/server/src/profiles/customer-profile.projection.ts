import type { RecordedEvent } from '@touchline/event-store';
import {
  anchorIdentifierOf,
  buildIdentityGraph,
  canonicalIdentifier,
  type CompiledRules,
  customerOf,
  evolveIdentityGraph,
  hasObservation,
  type IdentityDecision,
  type IdentityDecisionEvent,
  type IdentityGraph,
  type Observation,
  observationFromEvent,
  type ObservationOptions,
  parseIdentifierOrThrow,
  type Revocation,
  unmerge,
  type UnmergeTarget,
} from '@touchline/identity';
import type { EvidenceSource } from '@touchline/identity';
import type { PoolClient } from 'pg';
import { ConcurrentWriteError, type Projection } from '../projector/projection';
import { touchpointOf } from '../projector/activity.projection';
import { newIdentityGeneration } from './identity-generation';
import type { FxTable } from '../value/domain/fx';
import { add, type Decimal, formatDecimal, parseDecimal, subtract } from '../value/domain/decimal';
import { valueFactOf } from '../value/domain/value-facts';
import { touchpointSummaryOf } from './touchpoint-summary';
import { isSmsOptOut } from '../privacy/consent/consent-statement';

/** The tables the projection owns, by name; the schema they live in is the instance's. */
export const CUSTOMER_PROFILE_TABLES = [
  'identity_observations',
  'identity_generation',
  'customer_identifiers',
  'identity_links',
  'identifier_facts',
  'customer_profiles',
  'customer_touchpoints',
  'profile_recompute_pending',
] as const;

/** Trait values with the event time and event id that wrote them (last writer wins). */
type TraitEntries = Record<string, { value: unknown; at: string; eventId: string }>;
/** Consent per purpose, the same shape as traits (merged by the same SQL function), plus its source. */
type ConsentEntries = Record<
  string,
  { value: boolean; at: string; eventId: string; source: string }
>;

/** What an admin's unmerge did. */
export interface RevocationOutcome {
  revocation: Revocation;
  /** False when this target was undone before: nothing changed. */
  applied: boolean;
  /** Identifiers that moved to another customer (or lost theirs). */
  moved: { identifier: string; from: string | null; to: string | null }[];
  /** Every customer id whose profile was recomputed. */
  customers: string[];
}

/** The key a revocation is stored under: the same separation asked twice is one row. */
function revocationKeyOf(revocation: Revocation): string {
  if (revocation.kind === 'evidence') return `evidence:${revocation.eventId}`;
  const [a, b] = revocation.between.map(canonicalIdentifier).sort();
  return `link:${JSON.stringify([a, b])}`;
}

interface LastContact {
  at: Date;
  eventId: string;
  channel: string;
  type: string;
  summary: string | null;
}

/** What one batch adds to one identifier's facts. */
interface FactsDelta {
  identifier: string;
  events: Record<'web' | 'email' | 'phone' | 'other', number>;
  firstSeenAt: Date | null;
  lastSeenAt: Date | null;
  lastContact: LastContact | null;
  traits: TraitEntries;
  consent: ConsentEntries;
  orders: number;
  revenue: Decimal;
}

/** A timeline row: a touchpoint under the identifier it is attributed to. */
interface TouchpointRow {
  eventId: string;
  identifier: string;
  occurredAt: Date;
  channel: string;
  type: string;
  summary: string | null;
}

/** What one batch (or an admin's unmerge) writes, for writeBatch. */
interface BatchWrites {
  observations: readonly Observation[];
  /** Identifier → its customer now; null when it has none any more. */
  mapping: ReadonlyMap<string, string | null>;
  decisions: readonly IdentityDecisionEvent[];
  facts: readonly FactsDelta[];
  touchpoints: readonly TouchpointRow[];
  /** Whose profile to recompute (or, deferred, to record as pending). */
  customers: readonly string[];
  deferProfiles: boolean;
  /** The generation the tables are at after this batch; null for a batch's chunk but the last. */
  generation: bigint | null;
}

/**
 * Events per chunk of a batch sent to PostgreSQL while the next is computed (applyBatch): small
 * enough for the two to overlap well, big enough that a statement's fixed cost stays small.
 */
const PIPELINE_CHUNK = 1_000;
/** Events the graph works through between two turns of the event loop (see applyBatch). */
const YIELD_EVERY = 100;

/** What a chunk's events add up to while the graph works through them. */
interface ChunkWrites {
  observations: Observation[];
  decisions: IdentityDecisionEvent[];
  /** Identifier → its customer now; null when it has none any more. */
  mapping: Map<string, string | null>;
  /** Customer ids identifiers moved away from: merged away or re-keyed ones lose their rows. */
  previous: Set<string>;
  /** Identifiers with fresh facts. */
  anchors: Set<string>;
  touchpoints: TouchpointRow[];
}

const newChunk = (): ChunkWrites => ({
  observations: [],
  decisions: [],
  mapping: new Map(),
  previous: new Set(),
  anchors: new Set(),
  touchpoints: [],
});

interface LinkRow {
  linkId: string;
  eventId: string;
  status: 'accepted' | 'refused';
  a: string;
  b: string;
  occurredAt: Date;
  source: EvidenceSource;
  evidenceIdentifiers: string[];
  reasonCode: string | null;
  reason: string | null;
}

const later = (a: { at: Date; eventId: string }, b: { at: Date; eventId: string }): boolean =>
  a.at.getTime() > b.at.getTime() || (a.at.getTime() === b.at.getTime() && a.eventId > b.eventId);

function linkRowOf(decision: IdentityDecision): LinkRow {
  const [a, b] = decision.link.between;
  const refused = decision.type === 'MergeRefused';
  return {
    linkId: decision.link.linkId,
    eventId: decision.evidence.eventId,
    status: refused ? 'refused' : 'accepted',
    a: canonicalIdentifier(a),
    b: canonicalIdentifier(b),
    occurredAt: decision.evidence.occurredAt,
    source: decision.evidence.source,
    evidenceIdentifiers: decision.evidence.identifiers.map(canonicalIdentifier),
    reasonCode: refused ? decision.reason.code : null,
    reason: refused ? decision.reason.message : null,
  };
}

const linkKey = (row: Pick<LinkRow, 'linkId' | 'eventId' | 'status'>) =>
  `${row.linkId}\u0000${row.eventId}\u0000${row.status}`;

/**
 * A text[] as PostgreSQL's array literal (`{"a","b"}`). Inside a JSON document PostgreSQL reads
 * it three times faster than a JSON array converted to text[] (docs/benchmarks.md); observations
 * travel as an array of these literals (their identifiers vary in number).
 */
const textArrayLiteral = (values: readonly string[]): string =>
  `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

const kindOf = (canonical: string) => canonical.slice(0, canonical.indexOf(':'));

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Consent an event states, per purpose. Segment's consent format on any call
 * (`context.consent.categoryPreferences`, e.g. `{"Analytics": true, "Advertising": false}`), and
 * an unsubscribe or spam complaint, which withdraws email marketing.
 */
function consentOf(event: RecordedEvent): [string, boolean][] {
  if (event.type === 'EmailUnsubscribed' || event.type === 'EmailMarkedAsSpam') {
    return [['email_marketing', false]];
  }
  // An explicit statement for one purpose (docs/security.md, "Consent").
  if (event.type === 'ConsentChanged') {
    const { purpose, granted } = event.data;
    return typeof purpose === 'string' && typeof granted === 'boolean' ? [[purpose, granted]] : [];
  }
  // An SMS that says only STOP (or another opt-out keyword) withdraws phone marketing.
  if (event.type === 'SmsReceived') {
    return isSmsOptOut(event.data['body']) ? [['phone_marketing', false]] : [];
  }
  const context = event.data['context'];
  const consent = isObject(context) ? context['consent'] : undefined;
  const preferences = isObject(consent) ? consent['categoryPreferences'] : undefined;
  if (!isObject(preferences)) return [];
  return Object.entries(preferences)
    .filter((entry): entry is [string, boolean] => typeof entry[1] === 'boolean')
    .slice(0, 50);
}

/**
 * The unified customer profile. One projection, because identity and profile must move together:
 * it runs the identity graph (@touchline/identity) over every stored event, keeps
 * identifier → customer in read_models.customer_identifiers, the evidence of every link in
 * identity_links, facts per identifier (each event attributed to its anchor identifier) in
 * identifier_facts and the timeline in customer_touchpoints, and after each batch recomputes the
 * profile of every customer the batch touched from those rows (a replay far behind the head
 * defers that: applyCatchingUp). A profile is a function of the
 * identifier → customer mapping and the facts, which are commutative, so any arrival order and a
 * rebuild give the same rows.
 *
 * The graph lives in memory. After a restart, or when another process or a rebuild wrote the
 * tables (the generation row holds another writer's value), it is rebuilt from
 * identity_observations.
 */
export class CustomerProfileProjection implements Projection {
  readonly name = 'customer_profiles';
  /**
   * 2: consent also from ConsentChanged and SMS opt-outs. A deployment whose rows version 1 built
   * rebuilds them blue/green by itself on start (docs/operations.md, "Versions").
   */
  readonly version = 2;
  readonly tables: readonly string[];
  readonly bookkeepingTables: readonly string[];
  /**
   * Bigger batches than the projector's default: the per-batch work (a customer touched several
   * times in a batch is recomputed once, one round trip) amortizes (docs/benchmarks.md).
   */
  readonly batchSize = 5_000;
  /**
   * A batch only appends observations and touchpoints (no ON CONFLICT since migration 5), never
   * reads links by identifier, and while catching up writes no profile: all these can be built
   * after a rebuild's replay. What stays: the keys the upserts need and customer_identifiers'
   * index by customer, which the profile recompute reads through.
   */
  readonly indexesBuiltAfterReplay = [
    'identity_observations_pkey',
    'customer_touchpoints_pkey',
    'customer_touchpoints_timeline',
    'identity_links_a',
    'identity_links_b',
    'customer_profiles_last_seen',
    'customer_profiles_traits',
    'customer_profiles_sort_last_seen',
    'customer_profiles_sort_first_seen',
    'customer_profiles_sort_total_events',
    'customer_profiles_sort_net_revenue',
  ] as const;

  private graph: IdentityGraph | null = null;
  /** The generation the in-memory graph matches; null while unknown (not loaded, or a failed batch). */
  private generation: bigint | null = null;
  /** The graph is a queued batch's, still being written: the next queued batch may build on it. */
  private queuedAhead = false;

  /**
   * @param schema where the tables are: `read_models` when serving; `pg_temp` for a profile
   *   computed on demand (as of a past time) in a transaction that is rolled back.
   */
  constructor(
    private readonly rules: CompiledRules,
    private readonly fx: FxTable,
    private readonly observationOptions: ObservationOptions = {},
    private readonly schema = 'read_models',
    /** Events per pipelined chunk of a batch (tests use small ones to cover the chunking). */
    private readonly pipelineChunk = PIPELINE_CHUNK,
  ) {
    this.tables = CUSTOMER_PROFILE_TABLES.map((table) => `${schema}.${table}`);
    this.bookkeepingTables = [`${schema}.identity_generation`];
    if (!Number.isSafeInteger(pipelineChunk) || pipelineChunk < 1) {
      throw new RangeError(`pipelineChunk must be a positive whole number, not ${pipelineChunk}`);
    }
  }

  /** The set of stored unmerges (an erasure may remove some): what a copy was built with. */
  async inputsOutsideTheLog(client: PoolClient): Promise<string> {
    const { rows } = await client.query<{ inputs: string }>(
      `SELECT count(*)::text || ' unmerges, ' ||
              md5(coalesce(string_agg(revocation_key, ',' ORDER BY revocation_key), '')) AS inputs
         FROM identity.revocations`,
    );
    return rows[0]?.inputs ?? '';
  }

  /** The same projection over the same tables in another schema (a blue/green rebuild's). */
  inSchema(schema: string): CustomerProfileProjection {
    return new CustomerProfileProjection(
      this.rules,
      this.fx,
      this.observationOptions,
      schema,
      this.pipelineChunk,
    );
  }

  async apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    await (
      await this.applyBatch(client, events, false, false)
    ).written;
  }

  /**
   * A replay far behind the head (a rebuild, whose rows are not served meanwhile): the same
   * writes as apply, except that the touched customers are only recorded in
   * profile_recompute_pending. The next apply recomputes them all, so a replay ends with one
   * apply (an empty batch will do) and then holds exactly the rows the live projector writes.
   */
  async applyCatchingUp(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    await (
      await this.applyBatch(client, events, true, false)
    ).written;
  }

  /**
   * applyCatchingUp for a replay that overlaps its batches (Projection.applyCatchingUpQueued):
   * resolves once the batch's JavaScript is done and its writes are queued on `client`, with
   * `written` settling when PostgreSQL has run them. The next batch may start meanwhile, on
   * another connection: it computes on the graph this one left, and its writes wait for this
   * one's commit on the generation row (below).
   */
  async applyCatchingUpQueued(
    client: PoolClient,
    events: readonly RecordedEvent[],
    previous?: Promise<void>,
  ): Promise<{ locked: Promise<void>; written: Promise<void> }> {
    return this.applyBatch(client, events, true, true, previous);
  }

  private async applyBatch(
    client: PoolClient,
    events: readonly RecordedEvent[],
    deferProfiles: boolean,
    queued: boolean,
    /** A queued batch's: the commit of the batch before it, still in flight. */
    previous?: Promise<void>,
  ): Promise<{ locked: Promise<void>; written: Promise<void> }> {
    // The generation row is locked first, so every write of this batch runs after the batch
    // before it committed. A queued batch does not wait for the lock to compute: it assumes the
    // tables will be at the generation its graph is at (the previous batch's, still committing),
    // and checks once the lock is granted; a mismatch (that batch rolled back, or another writer)
    // fails this one, and its transaction is rolled back with whatever it wrote.
    const locking = this.lockGeneration(client);
    // What this batch leaves in the generation row, and the graph it computes is at.
    const next = newIdentityGeneration();
    // Settled either way (a failed lock is reported by `written`): what the writes wait for.
    const lockSettled = locking.then(
      () => undefined,
      () => undefined,
    );
    // Only right after a queued batch of the same replay: its graph is the one this batch's
    // writes will follow. Anything else (the live projector's graph before a rebuild emptied the
    // tables, say) is checked against the tables first, as a live batch does.
    const ahead = queued && this.queuedAhead ? this.graph : null;
    const assumed = ahead !== null ? this.generation : null;
    this.queuedAhead = false;
    let graph: IdentityGraph;
    let generation: bigint;
    if (ahead !== null && assumed !== null) {
      graph = ahead;
      generation = assumed;
    } else {
      generation = await locking;
      graph =
        this.graph !== null && this.generation === generation
          ? this.graph
          : await this.load(client);
    }
    // Unknown until this batch is through: a failure halfway leaves a graph ahead of the tables.
    this.graph = null;
    this.generation = null;

    // The batch goes to PostgreSQL in chunks, each chunk's writes sent as soon as its JavaScript
    // is done: PostgreSQL writes one chunk while the graph works through the next (the pg client
    // runs them in order on this transaction's connection). Profiles are recomputed once, with
    // the last chunk, for every customer any chunk touched.
    const touched = new Set<string>();
    // Facts add up over the whole batch and go with its last chunk: an identifier seen in
    // several chunks is one upsert, not one per chunk (the upsert is the costly write).
    const facts = new Map<string, FactsDelta>();
    const writes: Promise<void>[] = [];
    let computing: { error: unknown } | null = null;
    try {
      // The first chunk is a quarter of the others: PostgreSQL, idle since the last commit,
      // gets work sooner.
      const firstChunk = Math.max(1, Math.floor(this.pipelineChunk / 4));
      // At least one chunk, even of no events: the last chunk recomputes the profiles.
      let start = 0;
      do {
        const end = Math.min(
          start + (start === 0 ? firstChunk : this.pipelineChunk),
          events.length,
        );
        const last = end >= events.length;
        const chunk = newChunk();
        for (let from = start; from === start || from < end; from += YIELD_EVERY) {
          // The pg client sends the next queued chunk only when this thread is free: a slice
          // at a time keeps PostgreSQL from waiting a whole chunk's JavaScript for it.
          if (from > start) await new Promise<void>((resolve) => setImmediate(resolve));
          graph = this.chunkWrites(
            graph,
            events,
            from,
            Math.min(from + YIELD_EVERY, end),
            facts,
            chunk,
          );
        }
        const { previous: movedFrom, anchors, ...rows } = chunk;
        for (const customerId of this.touchedCustomers(
          graph,
          rows.mapping,
          movedFrom,
          rows.decisions,
          anchors,
        ))
          touched.add(customerId);
        const parameters = this.batchParameters({
          ...rows,
          facts: last ? [...facts.values()] : [],
          customers: last ? [...touched].sort() : [],
          deferProfiles,
          generation: last ? next : null,
        });
        // One statement at a time on the connection: each chunk's after the one before.
        // The first after the generation lock, which a queued batch sent without waiting.
        const previous = writes[writes.length - 1] ?? lockSettled;
        const write = previous.then(() => this.writeBatch(client, parameters));
        // Awaited below, all of them; never an unhandled rejection meanwhile.
        write.catch(() => undefined);
        writes.push(write);
        // Let the pg client send the chunk (and take in the one before) before the next.
        if (!last) await new Promise<void>((resolve) => setImmediate(resolve));
        start = end;
      } while (start < events.length);
    } catch (error) {
      computing = { error };
    }
    const settle = async (): Promise<void> => {
      // Every chunk sent is settled before the caller rolls back or commits.
      const outcomes = await Promise.allSettled(writes);
      if (computing !== null) throw computing.error;
      // A failed lock is the cause of whatever failed after it.
      const locked = await locking;
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
      // Written, but the replay commits it only after the batch before it: if that one fails,
      // so does this one, and its graph (the next batch's start) is dropped below.
      await previous;
      if (assumed !== null && locked !== assumed) {
        throw new ConcurrentWriteError(
          `The profile tables are at generation ${locked}, not ${assumed} as this batch assumed (the batch before it failed, or another process wrote): rolled back`,
        );
      }
    };
    if (!queued || computing !== null) {
      await settle();
      this.graph = graph;
      this.generation = next;
      return { locked: Promise.resolve(), written: Promise.resolve() };
    }
    // Queued: the next batch starts from this graph now; if these writes fail, it finds out
    // through the generation, and the graph is reloaded from the tables after.
    const computed = graph;
    this.graph = computed;
    this.generation = next;
    this.queuedAhead = true;
    const written = settle().catch((error: unknown) => {
      if (this.graph === computed) {
        this.graph = null;
        this.generation = null;
        this.queuedAhead = false;
      }
      throw error;
    });
    written.catch(() => undefined);
    return { locked: lockSettled, written };
  }

  /**
   * The graph steps and rows of events[from, to), added to the chunk's: the JavaScript half of
   * a chunk. Returns the graph after them.
   */
  private chunkWrites(
    graph: IdentityGraph,
    events: readonly RecordedEvent[],
    from: number,
    to: number,
    facts: Map<string, FactsDelta>,
    chunk: ChunkWrites,
  ): IdentityGraph {
    const { observations, decisions, mapping, previous, anchors, touchpoints } = chunk;
    for (let i = from; i < to && i < events.length; i += 1) {
      const event = events[i] as RecordedEvent;
      const occurredAt = event.metadata['occurredAt'];
      if (typeof occurredAt !== 'string') continue;
      // Applied before (a replay of a range, a redelivery, or twice in this batch)? Every event
      // with identifiers leaves an observation, and the graph holds exactly the stored ones
      // (same generation, or just loaded): facts are sums, so a repeat must not count twice.
      if (hasObservation(graph, event.eventId)) continue;
      const observation = observationFromEvent(
        {
          eventId: event.eventId,
          type: event.type,
          occurredAt,
          streamId: event.streamId,
          data: event.data,
        },
        this.observationOptions,
      );
      if (observation === null) continue;
      observations.push(observation);
      const step = evolveIdentityGraph(graph, observation);
      graph = step.state;
      for (const decision of step.decisions) decisions.push(decision);
      for (const change of step.changes) {
        mapping.set(canonicalIdentifier(change.identifier), change.to);
        if (change.from !== null) previous.add(change.from);
      }

      const anchorIdentifier = anchorIdentifierOf(observation, this.rules);
      if (anchorIdentifier === null) continue;
      const anchor = canonicalIdentifier(anchorIdentifier);
      anchors.add(anchor);
      this.addFacts(facts, anchor, event, observation.occurredAt, touchpoints);
    }
    return graph;
  }

  /**
   * An admin undoes a merge (docs/identity.md, "Unmerge"). Runs in the caller's transaction and
   * serializes with the projector on the generation row. The revocation is stored outside the
   * projection's tables, so a rebuild applies it again. Throws IdentityError('UNKNOWN_MERGE')
   * when the target names nothing the graph holds.
   */
  async revoke(
    client: PoolClient,
    target: UnmergeTarget,
    request: { reason: string | null; requestedBy: string },
  ): Promise<RevocationOutcome> {
    await this.lockGeneration(client);
    const earlier = await client.query<{ revocation: Revocation }>(
      `SELECT revocation FROM identity.revocations WHERE target = $1::jsonb`,
      [JSON.stringify(target)],
    );
    const already = earlier.rows[0];
    if (already !== undefined) {
      return { revocation: already.revocation, applied: false, moved: [], customers: [] };
    }
    const before = await this.load(client);
    const step = unmerge(before, target);
    const stored = await client.query(
      `INSERT INTO identity.revocations (revocation_key, target, revocation, reason, requested_by)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (revocation_key) DO NOTHING`,
      [
        revocationKeyOf(step.revocation),
        JSON.stringify(target),
        JSON.stringify(step.revocation),
        request.reason,
        request.requestedBy,
      ],
    );
    if (stored.rowCount === 0) {
      return { revocation: step.revocation, applied: false, moved: [], customers: [] };
    }
    const mapping = new Map<string, string | null>();
    const moved: RevocationOutcome['moved'] = [];
    for (const change of step.changes) {
      const identifier = canonicalIdentifier(change.identifier);
      mapping.set(identifier, change.to);
      moved.push({ identifier, from: change.from, to: change.to });
    }
    const previous = new Set(
      moved.flatMap((change) => (change.from === null ? [] : [change.from])),
    );
    const recomputed = this.touchedCustomers(
      step.state,
      mapping,
      previous,
      step.decisions,
      new Set(),
    );
    await this.writeBatch(
      client,
      this.batchParameters({
        observations: [],
        mapping,
        decisions: step.decisions,
        facts: [],
        touchpoints: [],
        customers: recomputed,
        deferProfiles: false,
        generation: newIdentityGeneration(),
      }),
    );
    // Whatever graph this instance held is behind the tables now.
    this.graph = null;
    this.generation = null;
    this.queuedAhead = false;
    return { revocation: step.revocation, applied: true, moved, customers: recomputed };
  }

  /**
   * Locks the generation row until the transaction ends, creating it when the tables are empty
   * (a SELECT ... FOR UPDATE of no row would lock nothing, and two batches could interleave).
   */
  private async lockGeneration(client: PoolClient): Promise<bigint> {
    const stored = await client.query<{ generation: string }>(
      `INSERT INTO ${this.schema}.identity_generation AS g (singleton, generation) VALUES (true, 0)
       ON CONFLICT (singleton) DO UPDATE SET generation = g.generation
       RETURNING generation`,
    );
    return BigInt(stored.rows[0]?.generation ?? '0');
  }

  /**
   * Customers whose profile a step changed: where identifiers moved to and from (a customer id
   * that lost all its identifiers, merged away or re-keyed, loses its profile), both sides of a
   * merge, and the customers of identifiers with fresh facts.
   */
  private touchedCustomers(
    graph: IdentityGraph,
    mapping: Map<string, string | null>,
    previous: ReadonlySet<string>,
    decisions: readonly IdentityDecisionEvent[],
    anchors: ReadonlySet<string>,
  ): string[] {
    const touched = new Set<string>(previous);
    for (const [, to] of mapping) if (to !== null) touched.add(to);
    for (const decision of decisions) {
      const d = decision.type === 'DecisionWithdrawn' ? decision.decision : decision;
      if (d.type === 'CustomersMerged') touched.add(d.survivorId).add(d.mergedId);
    }
    for (const anchor of anchors) {
      const customerId = customerOf(graph, anchor);
      if (customerId !== null) touched.add(customerId);
    }
    return [...touched].sort();
  }

  /** The graph as the tables describe it: every stored observation and revocation, in canonical order. */
  private async load(client: PoolClient): Promise<IdentityGraph> {
    const revocations = await client.query<{ revocation: Revocation }>(
      `SELECT revocation FROM identity.revocations ORDER BY revocation_key`,
    );
    const rows = await client.query<{
      event_id: string;
      occurred_at: Date;
      source: EvidenceSource;
      identifiers: string[];
    }>(
      `SELECT event_id, occurred_at, source, identifiers FROM ${this.schema}.identity_observations`,
    );
    return buildIdentityGraph(
      rows.rows.map((row) => ({
        eventId: row.event_id,
        occurredAt: row.occurred_at,
        source: row.source,
        identifiers: row.identifiers.map(parseIdentifierOrThrow),
      })),
      { rules: this.rules.rules, revocations: revocations.rows.map((row) => row.revocation) },
    );
  }

  private addFacts(
    facts: Map<string, FactsDelta>,
    identifier: string,
    event: RecordedEvent,
    occurredAt: Date,
    touchpoints: TouchpointRow[],
  ): void {
    let delta = facts.get(identifier);
    if (delta === undefined) {
      delta = {
        identifier,
        events: { web: 0, email: 0, phone: 0, other: 0 },
        firstSeenAt: null,
        lastSeenAt: null,
        lastContact: null,
        traits: {},
        consent: {},
        orders: 0,
        revenue: parseDecimal('0'),
      };
      facts.set(identifier, delta);
    }
    const touchpoint = touchpointOf(event);
    if (touchpoint !== null) {
      const summary = touchpointSummaryOf(event);
      delta.events[touchpoint.channel] += 1;
      if (delta.firstSeenAt === null || occurredAt < delta.firstSeenAt)
        delta.firstSeenAt = occurredAt;
      if (delta.lastSeenAt === null || occurredAt > delta.lastSeenAt) delta.lastSeenAt = occurredAt;
      const contact: LastContact = {
        at: occurredAt,
        eventId: event.eventId,
        channel: touchpoint.channel,
        type: event.type,
        summary,
      };
      if (delta.lastContact === null || later(contact, delta.lastContact))
        delta.lastContact = contact;
      touchpoints.push({
        eventId: event.eventId,
        identifier,
        occurredAt,
        channel: touchpoint.channel,
        type: event.type,
        summary,
      });
    }
    if (event.type === 'UserIdentified') {
      const traits = event.data['traits'];
      if (typeof traits === 'object' && traits !== null && !Array.isArray(traits)) {
        const at = occurredAt.toISOString();
        for (const [name, value] of Object.entries(traits as Record<string, unknown>)) {
          const current = delta.traits[name];
          const candidate = { value, at, eventId: event.eventId };
          if (
            current === undefined ||
            later(
              { at: occurredAt, eventId: event.eventId },
              { at: new Date(current.at), eventId: current.eventId },
            )
          ) {
            delta.traits[name] = candidate;
          }
        }
      }
    }
    for (const [purpose, value] of consentOf(event)) {
      const current = delta.consent[purpose];
      if (
        current === undefined ||
        later(
          { at: occurredAt, eventId: event.eventId },
          { at: new Date(current.at), eventId: current.eventId },
        )
      ) {
        delta.consent[purpose] = {
          value,
          at: occurredAt.toISOString(),
          eventId: event.eventId,
          source: event.type,
        };
      }
    }
    const fact = valueFactOf(
      {
        eventId: event.eventId,
        type: event.type,
        customerKey: identifier,
        occurredAt,
        data: event.data,
      },
      this.fx,
    );
    if (fact?.kind === 'order') {
      delta.orders += 1;
      delta.revenue = add(delta.revenue, parseDecimal(fact.baseAmount));
    } else if (fact?.kind === 'refund' && fact.baseAmount !== null) {
      delta.revenue = subtract(delta.revenue, parseDecimal(fact.baseAmount));
    }
  }

  /**
   * Every write of one chunk in one statement: read_models.apply_customer_profile_batch
   * (profile-batch-function.sql.ts, version 5), so a chunk costs one round trip; its statements
   * run in order, the profile recompute last.
   */
  private async writeBatch(client: PoolClient, parameters: unknown[]): Promise<void> {
    await client.query(
      `SELECT read_models.apply_customer_profile_batch(${parameters.map((_, i) => `$${i + 1}`).join(', ')})`,
      parameters,
    );
  }

  /**
   * writeBatch's parameters: the schema; observations and touchpoints as one array per column;
   * one JSON document for each other table; and the batch's facts.
   */
  private batchParameters(batch: BatchWrites): unknown[] {
    const gone: string[] = [];
    const moved: { identifier: string; kind: string; customer_id: string }[] = [];
    for (const [identifier, to] of batch.mapping) {
      if (to === null) gone.push(identifier);
      else moved.push({ identifier, kind: kindOf(identifier), customer_id: to });
    }
    // Decisions in order; a withdrawn one removes its row. What is left is the graph's.
    const links = new Map<string, LinkRow | null>();
    for (const decision of batch.decisions) {
      if (decision.type === 'DecisionWithdrawn')
        links.set(linkKey(linkRowOf(decision.decision)), null);
      else {
        const row = linkRowOf(decision);
        links.set(linkKey(row), row);
      }
    }
    const withdrawn: { link_id: string; event_id: string; status: string }[] = [];
    const kept: LinkRow[] = [];
    for (const [key, row] of links) {
      if (row !== null) kept.push(row);
      else {
        const [linkId, eventId, status] = key.split('\u0000');
        withdrawn.push({ link_id: linkId ?? '', event_id: eventId ?? '', status: status ?? '' });
      }
    }
    const { observations, touchpoints } = batch;
    return [
      this.schema,
      observations.map((o) => o.eventId),
      observations.map((o) => o.occurredAt.toISOString()),
      observations.map((o) => o.source),
      observations.map((o) => textArrayLiteral(o.identifiers.map(canonicalIdentifier))),
      JSON.stringify(gone),
      JSON.stringify(moved),
      JSON.stringify(withdrawn),
      JSON.stringify(
        kept.map((r) => ({
          link_id: r.linkId,
          event_id: r.eventId,
          status: r.status,
          a: r.a,
          b: r.b,
          occurred_at: r.occurredAt.toISOString(),
          source: r.source,
          evidence_identifiers: textArrayLiteral(r.evidenceIdentifiers),
          reason_code: r.reasonCode,
          reason: r.reason,
        })),
      ),
      JSON.stringify(
        batch.facts.map((d) => ({
          identifier: d.identifier,
          web: d.events.web,
          email: d.events.email,
          phone: d.events.phone,
          other: d.events.other,
          first_seen_at: d.firstSeenAt?.toISOString() ?? null,
          last_seen_at: d.lastSeenAt?.toISOString() ?? null,
          contact_at: d.lastContact?.at.toISOString() ?? null,
          contact_event_id: d.lastContact?.eventId ?? null,
          contact_channel: d.lastContact?.channel ?? null,
          contact_type: d.lastContact?.type ?? null,
          contact_summary: d.lastContact?.summary ?? null,
          traits: d.traits,
          orders: d.orders,
          revenue: formatDecimal(d.revenue),
          consent: d.consent,
        })),
      ),
      touchpoints.map((t) => t.eventId),
      touchpoints.map((t) => t.identifier),
      touchpoints.map((t) => t.occurredAt.toISOString()),
      touchpoints.map((t) => t.channel),
      touchpoints.map((t) => t.type),
      touchpoints.map((t) => t.summary),
      JSON.stringify(batch.customers),
      this.fx.base,
      batch.deferProfiles,
      batch.generation?.toString() ?? null,
    ];
  }
}
