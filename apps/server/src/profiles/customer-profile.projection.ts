import type { RecordedEvent } from '@touchline/event-store';
import {
  anchorIdentifierOf,
  buildIdentityGraph,
  canonicalIdentifier,
  type CompiledRules,
  customerOf,
  evolveIdentityGraph,
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
import type { Projection } from '../projector/projection';
import { touchpointOf } from '../projector/activity.projection';
import type { FxTable } from '../value/domain/fx';
import { add, type Decimal, formatDecimal, parseDecimal, subtract } from '../value/domain/decimal';
import { valueFactOf } from '../value/domain/value-facts';
import { touchpointSummaryOf } from './touchpoint-summary';

/** The tables the projection owns, by name; the schema they live in is the instance's. */
export const CUSTOMER_PROFILE_TABLES = [
  'identity_observations',
  'identity_generation',
  'customer_identifiers',
  'identity_links',
  'identifier_facts',
  'customer_profiles',
  'customer_touchpoints',
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
 * profile of every customer the batch touched from those rows. A profile is a function of the
 * identifier → customer mapping and the facts, which are commutative, so any arrival order and a
 * rebuild give the same rows.
 *
 * The graph lives in memory. After a restart, or when another process or a rebuild wrote the
 * tables (the generation counter differs), it is rebuilt from identity_observations.
 */
export class CustomerProfileProjection implements Projection {
  readonly name = 'customer_profiles';
  readonly version = 1;
  readonly tables: readonly string[];

  private graph: IdentityGraph | null = null;
  /** The generation the in-memory graph matches; null while unknown (not loaded, or a failed batch). */
  private generation: bigint | null = null;

  /**
   * @param schema where the tables are: `read_models` when serving; `pg_temp` for a profile
   *   computed on demand (as of a past time) in a transaction that is rolled back.
   */
  constructor(
    private readonly rules: CompiledRules,
    private readonly fx: FxTable,
    private readonly observationOptions: ObservationOptions = {},
    private readonly schema = 'read_models',
  ) {
    this.tables = CUSTOMER_PROFILE_TABLES.map((table) => `${schema}.${table}`);
  }

  async apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    const generation = await this.lockGeneration(client);
    let graph =
      this.graph !== null && this.generation === generation ? this.graph : await this.load(client);
    // Unknown until this batch is through: a failure halfway leaves a graph ahead of the tables.
    this.graph = null;
    this.generation = null;

    const observations: Observation[] = [];
    const decisions: IdentityDecisionEvent[] = [];
    const mapping = new Map<string, string | null>();
    /** Customer ids identifiers moved away from: merged away or re-keyed ones lose their rows. */
    const previous = new Set<string>();
    const anchors = new Set<string>();
    const facts = new Map<string, FactsDelta>();
    const touchpoints: {
      eventId: string;
      identifier: string;
      occurredAt: Date;
      channel: string;
      type: string;
      summary: string | null;
    }[] = [];

    for (const event of await this.unseen(client, events)) {
      const occurredAt = event.metadata['occurredAt'];
      if (typeof occurredAt !== 'string') continue;
      const observation = observationFromEvent({ ...event, occurredAt }, this.observationOptions);
      if (observation === null) continue;
      observations.push(observation);
      const step = evolveIdentityGraph(graph, observation);
      graph = step.state;
      decisions.push(...step.decisions);
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

    await this.writeObservations(client, observations);
    await this.writeMapping(client, mapping);
    await this.writeLinks(client, decisions);
    await this.writeFacts(client, [...facts.values()]);
    await this.writeTouchpoints(client, touchpoints);
    await this.recomputeProfiles(
      client,
      this.touchedCustomers(graph, mapping, previous, decisions, anchors),
    );
    await this.storeGeneration(client, generation + 1n);
    this.graph = graph;
    this.generation = generation + 1n;
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
    const generation = await this.lockGeneration(client);
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
    await this.writeMapping(client, mapping);
    await this.writeLinks(client, step.decisions);
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
    await this.recomputeProfiles(client, recomputed);
    await this.storeGeneration(client, generation + 1n);
    // Whatever graph this instance held is behind the tables now.
    this.graph = null;
    this.generation = null;
    return { revocation: step.revocation, applied: true, moved, customers: recomputed };
  }

  private async lockGeneration(client: PoolClient): Promise<bigint> {
    const stored = await client.query<{ generation: string }>(
      `SELECT generation FROM ${this.schema}.identity_generation FOR UPDATE`,
    );
    return BigInt(stored.rows[0]?.generation ?? '0');
  }

  private async storeGeneration(client: PoolClient, generation: bigint): Promise<void> {
    await client.query(
      `INSERT INTO ${this.schema}.identity_generation (singleton, generation) VALUES (true, $1)
       ON CONFLICT (singleton) DO UPDATE SET generation = excluded.generation`,
      [generation.toString()],
    );
  }

  /**
   * Events this projection has not applied yet. The store hands each event over once, but a
   * replay of a range or an import through another path may repeat one: facts are sums, so a
   * repeat must not count twice. Every event that carries identifiers leaves an observation row.
   */
  private async unseen(
    client: PoolClient,
    events: readonly RecordedEvent[],
  ): Promise<RecordedEvent[]> {
    const unique = new Map<string, RecordedEvent>();
    for (const event of events) if (!unique.has(event.eventId)) unique.set(event.eventId, event);
    const seen = await client.query<{ event_id: string }>(
      `SELECT event_id FROM ${this.schema}.identity_observations WHERE event_id = ANY($1::text[])`,
      [[...unique.keys()]],
    );
    for (const row of seen.rows) unique.delete(row.event_id);
    return [...unique.values()];
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
    touchpoints: {
      eventId: string;
      identifier: string;
      occurredAt: Date;
      channel: string;
      type: string;
      summary: string | null;
    }[],
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

  private async writeObservations(client: PoolClient, observations: Observation[]): Promise<void> {
    if (observations.length === 0) return;
    await client.query(
      `INSERT INTO ${this.schema}.identity_observations (event_id, occurred_at, source, identifiers)
       SELECT event_id, occurred_at, source, ARRAY(SELECT jsonb_array_elements_text(ids::jsonb))
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[]) AS o(event_id, occurred_at, source, ids)
       ON CONFLICT (event_id) DO NOTHING`,
      [
        observations.map((o) => o.eventId),
        observations.map((o) => o.occurredAt),
        observations.map((o) => o.source),
        observations.map((o) => JSON.stringify(o.identifiers.map(canonicalIdentifier))),
      ],
    );
  }

  private async writeMapping(
    client: PoolClient,
    mapping: Map<string, string | null>,
  ): Promise<void> {
    const gone = [...mapping].filter(([, to]) => to === null).map(([identifier]) => identifier);
    const moved = [...mapping].filter((entry): entry is [string, string] => entry[1] !== null);
    if (gone.length > 0) {
      await client.query(
        `DELETE FROM ${this.schema}.customer_identifiers WHERE identifier = ANY($1::text[])`,
        [gone],
      );
    }
    if (moved.length === 0) return;
    await client.query(
      `INSERT INTO ${this.schema}.customer_identifiers (identifier, kind, customer_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (identifier) DO UPDATE SET customer_id = excluded.customer_id`,
      [moved.map(([id]) => id), moved.map(([id]) => kindOf(id)), moved.map(([, to]) => to)],
    );
  }

  /** Decisions in order; a withdrawn one removes its row. What is left is the graph's. */
  private async writeLinks(
    client: PoolClient,
    decisions: readonly IdentityDecisionEvent[],
  ): Promise<void> {
    if (decisions.length === 0) return;
    const rows = new Map<string, LinkRow | null>();
    for (const decision of decisions) {
      if (decision.type === 'DecisionWithdrawn')
        rows.set(linkKey(linkRowOf(decision.decision)), null);
      else {
        const row = linkRowOf(decision);
        rows.set(linkKey(row), row);
      }
    }
    const all = [...rows.entries()];
    const withdrawn = all.filter(([, row]) => row === null).map(([key]) => key.split('\u0000'));
    if (withdrawn.length > 0) {
      await client.query(
        `DELETE FROM ${this.schema}.identity_links l USING unnest($1::text[], $2::text[], $3::text[]) AS w(link_id, event_id, status)
          WHERE l.link_id = w.link_id AND l.event_id = w.event_id AND l.status = w.status`,
        [withdrawn.map((k) => k[0]), withdrawn.map((k) => k[1]), withdrawn.map((k) => k[2])],
      );
    }
    const kept = all.map(([, row]) => row).filter((row): row is LinkRow => row !== null);
    if (kept.length === 0) return;
    await client.query(
      `INSERT INTO ${this.schema}.identity_links (link_id, event_id, status, identifier_a, identifier_b, occurred_at,
                                        source, evidence_identifiers, reason_code, reason)
       SELECT link_id, event_id, status, a, b, occurred_at, source,
              ARRAY(SELECT jsonb_array_elements_text(ids::jsonb)), reason_code, reason
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
                     $8::text[], $9::text[], $10::text[])
           AS r(link_id, event_id, status, a, b, occurred_at, source, ids, reason_code, reason)
       ON CONFLICT (link_id, event_id, status) DO UPDATE SET
         identifier_a = excluded.identifier_a, identifier_b = excluded.identifier_b,
         reason_code = excluded.reason_code, reason = excluded.reason`,
      [
        kept.map((r) => r.linkId),
        kept.map((r) => r.eventId),
        kept.map((r) => r.status),
        kept.map((r) => r.a),
        kept.map((r) => r.b),
        kept.map((r) => r.occurredAt),
        kept.map((r) => r.source),
        kept.map((r) => JSON.stringify(r.evidenceIdentifiers)),
        kept.map((r) => r.reasonCode),
        kept.map((r) => r.reason),
      ],
    );
  }

  private async writeFacts(client: PoolClient, deltas: FactsDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const newer = `excluded.last_contact_at IS NOT NULL AND (f.last_contact_at IS NULL
      OR (excluded.last_contact_at, excluded.last_contact_event_id) > (f.last_contact_at, f.last_contact_event_id))`;
    const pick = (column: string) =>
      `${column} = CASE WHEN ${newer} THEN excluded.${column} ELSE f.${column} END`;
    await client.query(
      `INSERT INTO ${this.schema}.identifier_facts AS f
         (identifier, web_events, email_events, phone_events, other_events, first_seen_at, last_seen_at,
          last_contact_at, last_contact_event_id, last_contact_channel, last_contact_type, last_contact_summary,
          traits, orders, net_revenue, consent)
       SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::int[], $6::timestamptz[],
                            $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::text[],
                            $13::jsonb[], $14::int[], $15::numeric[], $16::jsonb[])
       ON CONFLICT (identifier) DO UPDATE SET
         web_events = f.web_events + excluded.web_events,
         email_events = f.email_events + excluded.email_events,
         phone_events = f.phone_events + excluded.phone_events,
         other_events = f.other_events + excluded.other_events,
         first_seen_at = LEAST(f.first_seen_at, excluded.first_seen_at),
         last_seen_at = GREATEST(f.last_seen_at, excluded.last_seen_at),
         ${pick('last_contact_event_id')}, ${pick('last_contact_channel')}, ${pick('last_contact_type')},
         ${pick('last_contact_summary')}, ${pick('last_contact_at')},
         traits = read_models.merge_traits(f.traits, excluded.traits),
         orders = f.orders + excluded.orders,
         net_revenue = f.net_revenue + excluded.net_revenue,
         consent = read_models.merge_traits(f.consent, excluded.consent)`,
      [
        deltas.map((d) => d.identifier),
        deltas.map((d) => d.events.web),
        deltas.map((d) => d.events.email),
        deltas.map((d) => d.events.phone),
        deltas.map((d) => d.events.other),
        deltas.map((d) => d.firstSeenAt),
        deltas.map((d) => d.lastSeenAt),
        deltas.map((d) => d.lastContact?.at ?? null),
        deltas.map((d) => d.lastContact?.eventId ?? null),
        deltas.map((d) => d.lastContact?.channel ?? null),
        deltas.map((d) => d.lastContact?.type ?? null),
        deltas.map((d) => d.lastContact?.summary ?? null),
        deltas.map((d) => JSON.stringify(d.traits)),
        deltas.map((d) => d.orders),
        deltas.map((d) => formatDecimal(d.revenue)),
        deltas.map((d) => JSON.stringify(d.consent)),
      ],
    );
  }

  private async writeTouchpoints(
    client: PoolClient,
    rows: {
      eventId: string;
      identifier: string;
      occurredAt: Date;
      channel: string;
      type: string;
      summary: string | null;
    }[],
  ): Promise<void> {
    if (rows.length === 0) return;
    await client.query(
      `INSERT INTO ${this.schema}.customer_touchpoints (event_id, identifier, occurred_at, channel, type, summary)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[])
       ON CONFLICT (event_id) DO NOTHING`,
      [
        rows.map((r) => r.eventId),
        rows.map((r) => r.identifier),
        rows.map((r) => r.occurredAt),
        rows.map((r) => r.channel),
        rows.map((r) => r.type),
        rows.map((r) => r.summary),
      ],
    );
  }

  /** Profiles are derived rows: replace the touched ones with what identifiers and facts say. */
  private async recomputeProfiles(client: PoolClient, customerIds: string[]): Promise<void> {
    if (customerIds.length === 0) return;
    await client.query(
      `DELETE FROM ${this.schema}.customer_profiles WHERE customer_id = ANY($1::text[])`,
      [customerIds],
    );
    await client.query(
      `WITH members AS (
         SELECT ci.customer_id, ci.identifier, f.web_events, f.email_events, f.phone_events, f.other_events,
                f.first_seen_at, f.last_seen_at, f.last_contact_at, f.last_contact_event_id,
                f.last_contact_channel, f.last_contact_type, f.last_contact_summary,
                coalesce(f.traits, '{}'::jsonb) AS traits, coalesce(f.consent, '{}'::jsonb) AS consent,
                f.orders, f.net_revenue
           FROM ${this.schema}.customer_identifiers ci
           LEFT JOIN ${this.schema}.identifier_facts f ON f.identifier = ci.identifier
          WHERE ci.customer_id = ANY($1::text[])
       ), totals AS (
         SELECT customer_id, array_agg(identifier ORDER BY identifier) AS identifiers,
                coalesce(sum(web_events), 0)::int AS web_events,
                coalesce(sum(email_events), 0)::int AS email_events,
                coalesce(sum(phone_events), 0)::int AS phone_events,
                coalesce(sum(other_events), 0)::int AS other_events,
                min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
                coalesce(sum(orders), 0)::int AS orders, coalesce(sum(net_revenue), 0) AS net_revenue
           FROM members
          GROUP BY customer_id
       ), last_contact AS (
         SELECT DISTINCT ON (customer_id) customer_id, last_contact_at, last_contact_channel,
                last_contact_type, last_contact_summary
           FROM members WHERE last_contact_at IS NOT NULL
          ORDER BY customer_id, last_contact_at DESC, last_contact_event_id DESC
       ), traits AS (
         SELECT customer_id, jsonb_object_agg(key, value -> 'value') AS traits
           FROM (SELECT DISTINCT ON (m.customer_id, t.key) m.customer_id, t.key, t.value
                   FROM members m, jsonb_each(m.traits) t
                  ORDER BY m.customer_id, t.key, t.value ->> 'at' DESC, t.value ->> 'eventId' DESC) w
          GROUP BY customer_id
       ), consent AS (
         SELECT customer_id, jsonb_object_agg(key, value - 'eventId') AS consent
           FROM (SELECT DISTINCT ON (m.customer_id, c.key) m.customer_id, c.key, c.value
                   FROM members m, jsonb_each(m.consent) c
                  ORDER BY m.customer_id, c.key, c.value ->> 'at' DESC, c.value ->> 'eventId' DESC) w
          GROUP BY customer_id
       )
       INSERT INTO ${this.schema}.customer_profiles
         (customer_id, identifiers, traits, first_seen_at, last_seen_at, web_events, email_events, phone_events,
          other_events, total_events, last_contact_at, last_contact_channel, last_contact_type,
          last_contact_summary, orders, net_revenue, currency, consent)
       SELECT t.customer_id, t.identifiers, coalesce(tr.traits, '{}'::jsonb), t.first_seen_at, t.last_seen_at,
              t.web_events, t.email_events, t.phone_events, t.other_events,
              t.web_events + t.email_events + t.phone_events + t.other_events,
              lc.last_contact_at, lc.last_contact_channel, lc.last_contact_type, lc.last_contact_summary,
              t.orders, t.net_revenue, $2, coalesce(co.consent, '{}'::jsonb)
         FROM totals t
         LEFT JOIN last_contact lc USING (customer_id)
         LEFT JOIN traits tr USING (customer_id)
         LEFT JOIN consent co USING (customer_id)`,
      [customerIds, this.fx.base],
    );
  }
}
