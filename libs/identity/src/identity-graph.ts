import type {
  CustomersMerged,
  EvidenceRef,
  IdentifierLinked,
  IdentityChange,
  IdentityDecision,
  IdentityDecisionEvent,
  Link,
  MergeRefused,
  RefusalReason,
} from './decisions';
import { IdentityError } from './errors';
import {
  canonicalIdentifier,
  isIdentifierKind,
  parseIdentifierOrThrow,
  type Identifier,
} from './identifier';
import { customerIdFor, linkIdFor } from './ids';
import type { EvidenceSource, Observation } from './observation';
import {
  compileRulesOrThrow,
  countKeyOf,
  DEFAULT_IDENTITY_RULES,
  type CompiledRules,
  type IdentityRules,
} from './rules';

/**
 * An admin's undoing of a merge, stored as an event and replayed with the evidence:
 * - `evidence`: the event links nothing (its identifiers stay known). A later event that sees the
 *   same identifiers together links them again.
 * - `link`: the two identifiers never belong to one customer; any merge that would join them is
 *   refused with UNMERGED_BY_ADMIN, whatever evidence comes later.
 */
export type Revocation =
  | { readonly kind: 'evidence'; readonly eventId: string }
  | { readonly kind: 'link'; readonly between: readonly [Identifier, Identifier] };

/** What an admin names to undo a merge: its evidence event, its link id, or the two identifiers. */
export type UnmergeTarget =
  | { readonly eventId: string }
  | { readonly linkId: string }
  | { readonly between: readonly [Identifier, Identifier] };

declare const graphBrand: unique symbol;

/**
 * The identity graph. Opaque: read it with the query functions. A step (evolve, unmerge,
 * withRules) takes ownership of the graph it is given and returns the next one; the old value
 * may not be used again (it throws STALE_STATE), which lets a step cost what the new evidence
 * costs instead of a copy of the whole graph. cloneIdentityGraph gives an independent copy.
 */
export interface IdentityGraph {
  readonly [graphBrand]: 'IdentityGraph';
}

export interface IdentityStep {
  readonly state: IdentityGraph;
  /** New decisions, and earlier ones this step withdrew; in a deterministic order. */
  readonly decisions: readonly IdentityDecisionEvent[];
  /** Identifiers whose customer changed in this step. */
  readonly changes: readonly IdentityChange[];
}

export interface UnmergeResult extends IdentityStep {
  /** Store it (as an admin event): replays apply it with applyRevocation. */
  readonly revocation: Revocation;
}

/** Everything the graph is a function of. */
export interface IdentityGraphInputs {
  readonly rules: IdentityRules;
  /** In canonical order: event time, then event id. */
  readonly observations: readonly Observation[];
  readonly revocations: readonly Revocation[];
}

export interface CustomerIdentity {
  readonly customerId: string;
  readonly identifiers: readonly Identifier[];
}

// ---------------------------------------------------------------------------------------------
// Internal representation. Identifiers are their canonical strings (`email:ada@example.com`).

interface Evidence {
  readonly eventId: string;
  readonly at: number;
  readonly source: EvidenceSource;
  /** Every identifier of the observation, canonical, distinct, sorted. */
  readonly ids: readonly string[];
}

/** Decides between two different observations sent with one event id. */
const contentKey = (evidence: Evidence): string =>
  JSON.stringify([evidence.at, evidence.source, evidence.ids]);

interface Stamp {
  readonly at: number;
  readonly eventId: string;
}

const compareStamp = (a: Stamp, b: Stamp): number =>
  a.at - b.at || compareStrings(a.eventId, b.eventId);

const laterStamp = (a: Stamp | null, b: Stamp | null): Stamp | null =>
  a === null ? b : b === null ? a : compareStamp(a, b) >= 0 ? a : b;

interface NodeInfo {
  parent: string;
  size: number;
  /** The evidence that joined this tree under its parent; null for a root. */
  joined: Stamp | null;
  readonly firstAt: number;
  readonly firstEvent: string;
  readonly rank: number;
}

type AcceptedLink = IdentifierLinked | CustomersMerged;

interface Component {
  members: string[];
  readonly counts: Map<string, number>;
  /** The earliest-seen identifier: the customer id is derived from it. */
  keyId: string;
  customerId: string;
  /** Members an admin separated from some identifier. */
  constrained: string[];
  links: AcceptedLink[];
  refusals: MergeRefused[];
}

/**
 * Identifiers connected by any evidence, ignoring limits. Outcomes inside one group depend only
 * on the group's evidence, so a late event re-evaluates its group, never the whole graph.
 */
interface RawGroup {
  members: string[];
  events: string[];
  maxAt: number;
  maxEvent: string;
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const compareEvidence = (a: Evidence, b: Evidence): number =>
  a.at - b.at || compareStrings(a.eventId, b.eventId);

const decisionKey = (decision: IdentityDecision): string => JSON.stringify(decision);

class GraphCore {
  readonly evidence = new Map<string, Evidence>();
  /** Per event: its identifiers that the rules do not block, strongest first. */
  readonly valid = new Map<string, readonly string[]>();
  readonly revokedEvents = new Set<string>();
  readonly forbidden = new Map<string, Set<string>>();
  readonly forbiddenPairs = new Map<string, readonly [string, string]>();
  readonly rawParent = new Map<string, string>();
  readonly rawGroups = new Map<string, RawGroup>();
  readonly nodes = new Map<string, NodeInfo>();
  readonly comps = new Map<string, Component>();
  readonly byCustomer = new Map<string, string>();
  readonly decisionsByEvent = new Map<string, readonly IdentityDecision[]>();
  /** Every pair a decision has named, for unmerge by link id. */
  readonly linkIndex = new Map<string, readonly [string, string]>();
  private readonly parsed = new Map<string, Identifier>();

  constructor(readonly compiled: CompiledRules) {}

  identifier(canonical: string): Identifier {
    let identifier = this.parsed.get(canonical);
    if (identifier === undefined) {
      identifier = parseIdentifierOrThrow(canonical);
      this.parsed.set(canonical, identifier);
    }
    return identifier;
  }

  rank(canonical: string): number {
    return this.compiled.rankOf(this.identifier(canonical).kind);
  }

  // --- evidence ------------------------------------------------------------------------------

  /** Adds an observation; returns what changed. */
  observe(evidence: Evidence): {
    decisions: IdentityDecisionEvent[];
    changes: IdentityChange[];
  } {
    const existing = this.evidence.get(evidence.eventId);
    if (existing !== undefined) {
      // The same event delivered again; if two different contents claim one id, the smaller
      // content wins whatever the arrival order, so the outcome stays order-independent.
      if (contentKey(existing) <= contentKey(evidence)) return { decisions: [], changes: [] };
      const oldValid = this.valid.get(existing.eventId) ?? [];
      this.store(evidence);
      const touched = [...new Set([...oldValid, ...(this.valid.get(evidence.eventId) ?? [])])];
      if (touched.length === 0) return { decisions: [], changes: [] };
      return this.recompute(this.attach(evidence, touched, oldValid.length > 0));
    }
    this.store(evidence);
    const ids = this.valid.get(evidence.eventId) ?? [];
    if (ids.length === 0) return { decisions: [], changes: [] };
    const late = ids.some((id) => {
      if (!this.rawParent.has(id)) return false;
      const group = this.rawGroup(this.rawFind(id));
      return (
        evidence.at - group.maxAt < 0 ||
        (evidence.at === group.maxAt && evidence.eventId < group.maxEvent)
      );
    });
    if (late && this.changesNothingAt(evidence, ids)) {
      this.attach(evidence, ids, false);
      return { decisions: [], changes: [] };
    }
    const root = this.attach(evidence, ids, false);
    if (late) return this.recompute(root);
    // In order for every group it touches: applying it on top gives what a replay would.
    const decisions: IdentityDecision[] = [];
    const changes = new Map<string, { from: string | null; to: string | null }>();
    this.apply(evidence, decisions, changes);
    if (decisions.length > 0) this.decisionsByEvent.set(evidence.eventId, decisions);
    return {
      decisions,
      changes: [...changes].map(([id, change]) => ({ identifier: this.identifier(id), ...change })),
    };
  }

  private store(evidence: Evidence): void {
    this.evidence.set(evidence.eventId, evidence);
    const valid = evidence.ids.filter((id) => {
      const { kind, value } = this.identifier(id);
      return !this.compiled.isBlocked(kind, value);
    });
    valid.sort((a, b) => this.rank(a) - this.rank(b) || compareStrings(a, b));
    this.valid.set(evidence.eventId, valid);
  }

  revoke(revocation: Revocation): {
    decisions: IdentityDecisionEvent[];
    changes: IdentityChange[];
  } {
    const roots = new Set<string>();
    if (revocation.kind === 'evidence') {
      if (this.revokedEvents.has(revocation.eventId)) return { decisions: [], changes: [] };
      this.revokedEvents.add(revocation.eventId);
      const first = this.valid.get(revocation.eventId)?.[0];
      if (first !== undefined) roots.add(this.rawFind(first));
    } else {
      const [a, b] = revocation.between.map(canonicalIdentifier) as [string, string];
      const linkId = linkIdFor(a, b);
      if (a === b || this.forbiddenPairs.has(linkId)) return { decisions: [], changes: [] };
      this.forbiddenPairs.set(linkId, a < b ? [a, b] : [b, a]);
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        const set = this.forbidden.get(x) ?? new Set<string>();
        set.add(y);
        this.forbidden.set(x, set);
        if (this.rawParent.has(x)) roots.add(this.rawFind(x));
      }
    }
    const decisions: IdentityDecisionEvent[] = [];
    const changes: IdentityChange[] = [];
    for (const root of roots) {
      const result = this.recompute(root);
      decisions.push(...result.decisions);
      changes.push(...result.changes);
    }
    return { decisions, changes };
  }

  revocations(): Revocation[] {
    return [
      ...[...this.revokedEvents]
        .sort(compareStrings)
        .map((eventId) => ({ kind: 'evidence' as const, eventId })),
      ...[...this.forbiddenPairs.values()]
        .sort((x, y) => compareStrings(x[0], y[0]) || compareStrings(x[1], y[1]))
        .map(([a, b]) => ({
          kind: 'link' as const,
          between: [this.identifier(a), this.identifier(b)] as const,
        })),
    ];
  }

  // --- raw groups ----------------------------------------------------------------------------

  private rawFind(id: string): string {
    let root = id;
    for (
      let parent = this.rawParent.get(root);
      parent !== undefined && parent !== root;
      parent = this.rawParent.get(root)
    ) {
      root = parent;
    }
    for (let current = id; current !== root;) {
      const next = this.rawParent.get(current) as string;
      this.rawParent.set(current, root);
      current = next;
    }
    return root;
  }

  private rawGroup(root: string): RawGroup {
    return this.rawGroups.get(root) as RawGroup;
  }

  /**
   * Joins the groups of `ids` (creating the new ones) and files the event under the result.
   * `filed`: the event is already in one of those groups (a replaced duplicate).
   */
  private attach(evidence: Evidence, ids: readonly string[], filed: boolean): string {
    const roots: string[] = [];
    for (const id of ids) {
      if (!this.rawParent.has(id)) {
        this.rawParent.set(id, id);
        this.rawGroups.set(id, { members: [id], events: [], maxAt: -Infinity, maxEvent: '' });
      }
      const root = this.rawFind(id);
      if (!roots.includes(root)) roots.push(root);
    }
    let root = roots[0] as string;
    for (const candidate of roots) {
      if (this.rawGroup(candidate).members.length > this.rawGroup(root).members.length)
        root = candidate;
    }
    const group = this.rawGroup(root);
    for (const candidate of roots) {
      if (candidate === root) continue;
      mergeInto(group, this.rawGroup(candidate));
      this.rawParent.set(candidate, root);
      this.rawGroups.delete(candidate);
    }
    if (!filed) group.events.push(evidence.eventId);
    if (
      evidence.at > group.maxAt ||
      (evidence.at === group.maxAt && evidence.eventId > group.maxEvent)
    ) {
      group.maxAt = evidence.at;
      group.maxEvent = evidence.eventId;
    }
    return root;
  }

  // --- the canonical evaluation ----------------------------------------------------------------

  /**
   * No path compression: union by size keeps trees O(log n) deep, and the untouched tree
   * remembers when each pair of identifiers became connected (see connectedBefore).
   */
  find(id: string): string {
    let root = id;
    for (
      let node = this.nodes.get(root);
      node !== undefined && node.parent !== root;
      node = this.nodes.get(root)
    ) {
      root = node.parent;
    }
    return root;
  }

  /**
   * Were `a` and `b` already one customer before `evidence` in the canonical order? The time two
   * identifiers became connected is the latest join on the tree path between them.
   */
  private connectedBefore(a: string, b: string, evidence: Evidence): boolean {
    const latestFromA = new Map<string, Stamp | null>();
    let latest: Stamp | null = null;
    for (let id = a; ;) {
      latestFromA.set(id, latest);
      const node = this.nodes.get(id) as NodeInfo;
      if (node.parent === id) break;
      latest = laterStamp(latest, node.joined);
      id = node.parent;
    }
    latest = null;
    for (let id = b; ;) {
      if (latestFromA.has(id)) {
        const joined = laterStamp(latest, latestFromA.get(id) ?? null);
        return joined === null || compareStamp(joined, evidence) < 0;
      }
      const node = this.nodes.get(id) as NodeInfo;
      if (node.parent === id) return false;
      latest = laterStamp(latest, node.joined);
      id = node.parent;
    }
  }

  /**
   * A late event changes nothing when its identifiers were all seen before it and were already
   * one customer at its time: replaying it in its place would find nothing to do. Repeat
   * sightings (every page view of a known visitor) take this path instead of a re-evaluation.
   */
  private changesNothingAt(evidence: Evidence, ids: readonly string[]): boolean {
    for (const id of ids) {
      const node = this.nodes.get(id);
      if (
        node === undefined ||
        compareStamp({ at: node.firstAt, eventId: node.firstEvent }, evidence) > 0
      ) {
        return false;
      }
    }
    if (this.revokedEvents.has(evidence.eventId)) return true;
    const [anchor, ...others] = ids;
    return others.every((other) => this.connectedBefore(anchor as string, other, evidence));
  }

  component(root: string): Component {
    return this.comps.get(root) as Component;
  }

  customerOf(id: string): string | null {
    return this.nodes.has(id) ? this.component(this.find(id)).customerId : null;
  }

  /** Earlier first sighting first; then the stronger kind; then the value. */
  private compareKeys(a: string, b: string): number {
    const na = this.nodes.get(a) as NodeInfo;
    const nb = this.nodes.get(b) as NodeInfo;
    return (
      na.firstAt - nb.firstAt ||
      compareStrings(na.firstEvent, nb.firstEvent) ||
      na.rank - nb.rank ||
      compareStrings(a, b)
    );
  }

  /**
   * Applies one observation to the graph as the canonical replay does: its identifiers become
   * known; unless revoked, each other identifier's customer is merged into the anchor's (the
   * strongest identifier's), one whole customer at a time, each merge checked against the rules:
   * customers already known first, then identifiers this event is the first to see.
   */
  private apply(
    evidence: Evidence,
    out: IdentityDecision[],
    changes: Map<string, { from: string | null; to: string | null }> | null,
  ): void {
    const ids = this.valid.get(evidence.eventId) ?? [];
    const fresh = new Set<string>();
    for (const id of ids) {
      if (this.nodes.has(id)) continue;
      fresh.add(id);
      const customerId = customerIdFor(id);
      const { kind, value } = this.identifier(id);
      this.nodes.set(id, {
        parent: id,
        size: 1,
        joined: null,
        firstAt: evidence.at,
        firstEvent: evidence.eventId,
        rank: this.compiled.rankOf(kind),
      });
      this.comps.set(id, {
        members: [id],
        counts: new Map([[countKeyOf(kind, value), 1]]),
        keyId: id,
        customerId,
        constrained: this.forbidden.has(id) ? [id] : [],
        links: [],
        refusals: [],
      });
      this.byCustomer.set(customerId, id);
      changes?.set(id, { from: null, to: customerId });
    }
    const [anchor, ...others] = ids;
    if (anchor === undefined || others.length === 0 || this.revokedEvents.has(evidence.eventId))
      return;
    let ref: EvidenceRef | undefined;
    const evidenceRef = (): EvidenceRef =>
      (ref ??= {
        eventId: evidence.eventId,
        occurredAt: new Date(evidence.at),
        source: evidence.source,
        identifiers: ids.map((id) => this.identifier(id)),
      });
    // Known customers merge first, so identifiers new with this event then join the customer
    // they end up in (IdentifierLinked) rather than a customer that exists for one instant.
    const ordered = [...others.filter((o) => !fresh.has(o)), ...others.filter((o) => fresh.has(o))];
    for (const other of ordered) {
      const anchorRoot = this.find(anchor);
      const otherRoot = this.find(other);
      if (anchorRoot === otherRoot) continue;
      const a = this.component(anchorRoot);
      const b = this.component(otherRoot);
      const linkId = linkIdFor(anchor, other);
      this.linkIndex.set(linkId, [anchor, other]);
      const link: Link = { linkId, between: [this.identifier(anchor), this.identifier(other)] };
      const reason = this.refusalOf(a, anchorRoot, b, otherRoot);
      if (reason !== null) {
        const refused: MergeRefused = {
          type: 'MergeRefused',
          customerId: a.customerId,
          otherCustomerId: b.customerId,
          link,
          reason,
          evidence: evidenceRef(),
        };
        a.refusals.push(refused);
        b.refusals.push(refused);
        out.push(refused);
        continue;
      }
      const [survivor, merged, mergedId] =
        this.compareKeys(a.keyId, b.keyId) <= 0 ? [a, b, other] : [b, a, anchor];
      const decision: AcceptedLink =
        merged.members.length === 1 && fresh.has(mergedId)
          ? {
              type: 'IdentifierLinked',
              customerId: survivor.customerId,
              identifier: this.identifier(mergedId),
              link,
              evidence: evidenceRef(),
            }
          : {
              type: 'CustomersMerged',
              survivorId: survivor.customerId,
              mergedId: merged.customerId,
              link,
              evidence: evidenceRef(),
            };
      if (changes !== null) {
        for (const member of merged.members) {
          const change = changes.get(member);
          if (change === undefined)
            changes.set(member, { from: merged.customerId, to: survivor.customerId });
          else change.to = survivor.customerId;
        }
      }
      this.union(anchorRoot, otherRoot, survivor, evidence);
      this.component(this.find(anchor)).links.push(decision);
      out.push(decision);
    }
  }

  private refusalOf(
    a: Component,
    aRoot: string,
    b: Component,
    bRoot: string,
  ): RefusalReason | null {
    let exceeded: { countKey: string; total: number; limit: number } | null = null;
    for (const countKey of new Set([...a.counts.keys(), ...b.counts.keys()])) {
      const total = (a.counts.get(countKey) ?? 0) + (b.counts.get(countKey) ?? 0);
      const limit = this.compiled.limitOf(countKey);
      if (total > limit && (exceeded === null || countKey < exceeded.countKey)) {
        exceeded = { countKey, total, limit };
      }
    }
    if (exceeded !== null) {
      return {
        code: 'LIMIT_EXCEEDED',
        countKey: exceeded.countKey,
        limit: exceeded.limit,
        message: `customers ${a.customerId} and ${b.customerId} together would hold ${exceeded.total} ${exceeded.countKey} identifiers; the limit is ${exceeded.limit}`,
      };
    }
    // Constraints are stored both ways, so the smaller side's list finds every violation.
    const [side, otherRoot] =
      a.constrained.length <= b.constrained.length ? [a, bRoot] : [b, aRoot];
    let violated: readonly [string, string] | null = null;
    for (const member of side.constrained) {
      for (const partner of this.forbidden.get(member) ?? []) {
        if (!this.nodes.has(partner) || this.find(partner) !== otherRoot) continue;
        const pair = member < partner ? ([member, partner] as const) : ([partner, member] as const);
        if (violated === null || linkIdFor(...pair) < linkIdFor(...violated)) violated = pair;
      }
    }
    if (violated === null) return null;
    return {
      code: 'UNMERGED_BY_ADMIN',
      linkId: linkIdFor(...violated),
      between: [this.identifier(violated[0]), this.identifier(violated[1])],
      message: `an admin separated ${violated[0]} and ${violated[1]}; this merge would join them again`,
    };
  }

  /** Union by size for the tree; the customer id follows the earliest key, not the tree root. */
  private union(aRoot: string, bRoot: string, survivor: Component, evidence: Evidence): void {
    const na = this.nodes.get(aRoot) as NodeInfo;
    const nb = this.nodes.get(bRoot) as NodeInfo;
    const [root, child] = na.size >= nb.size ? [aRoot, bRoot] : [bRoot, aRoot];
    const kept = this.component(root);
    const absorbed = this.component(child);
    const retired = survivor === kept ? absorbed : kept;
    const childNode = this.nodes.get(child) as NodeInfo;
    childNode.parent = root;
    childNode.joined = { at: evidence.at, eventId: evidence.eventId };
    (this.nodes.get(root) as NodeInfo).size = na.size + nb.size;
    kept.members = concat(kept.members, absorbed.members);
    for (const [key, count] of absorbed.counts)
      kept.counts.set(key, (kept.counts.get(key) ?? 0) + count);
    kept.constrained = concat(kept.constrained, absorbed.constrained);
    kept.links = concat(kept.links, absorbed.links);
    kept.refusals = concat(kept.refusals, absorbed.refusals);
    this.byCustomer.delete(retired.customerId);
    kept.keyId = survivor.keyId;
    kept.customerId = survivor.customerId;
    this.byCustomer.set(kept.customerId, root);
    this.comps.delete(child);
  }

  /** Re-evaluates a group from its evidence in canonical order and reports the difference. */
  private recompute(root: string): {
    decisions: IdentityDecisionEvent[];
    changes: IdentityChange[];
  } {
    const group = this.rawGroup(root);
    const before = new Map(group.members.map((id) => [id, this.customerOf(id)]));
    const events = group.events
      .map((eventId) => this.evidence.get(eventId) as Evidence)
      .sort(compareEvidence);
    const old = new Map<string, IdentityDecision>();
    for (const evidence of events) {
      for (const decision of this.decisionsByEvent.get(evidence.eventId) ?? []) {
        old.set(decisionKey(decision), decision);
      }
      this.decisionsByEvent.delete(evidence.eventId);
    }
    for (const id of group.members) {
      const component = this.comps.get(id);
      if (component !== undefined) {
        this.byCustomer.delete(component.customerId);
        this.comps.delete(id);
      }
      this.nodes.delete(id);
    }
    const added: IdentityDecision[] = [];
    for (const evidence of events) {
      const decisions: IdentityDecision[] = [];
      this.apply(evidence, decisions, null);
      if (decisions.length === 0) continue;
      this.decisionsByEvent.set(evidence.eventId, decisions);
      for (const decision of decisions) {
        if (!old.delete(decisionKey(decision))) added.push(decision);
      }
    }
    group.events = events.map((evidence) => evidence.eventId);
    const changes: IdentityChange[] = [];
    for (const [id, from] of before) {
      const to = this.customerOf(id);
      if (to !== from) changes.push({ identifier: this.identifier(id), from, to });
    }
    return {
      decisions: [
        ...[...old.values()].map((decision) => ({ type: 'DecisionWithdrawn' as const, decision })),
        ...added,
      ],
      changes,
    };
  }

  // --- inputs ----------------------------------------------------------------------------------

  observations(): Observation[] {
    return [...this.evidence.values()].sort(compareEvidence).map((evidence) => ({
      eventId: evidence.eventId,
      occurredAt: new Date(evidence.at),
      source: evidence.source,
      identifiers: evidence.ids.map((id) => this.identifier(id)),
    }));
  }

  allDecisions(): IdentityDecision[] {
    return [...this.evidence.values()]
      .sort(compareEvidence)
      .flatMap((evidence) => this.decisionsByEvent.get(evidence.eventId) ?? []);
  }
}

/** Appends the shorter list to the longer one (each element moves O(log n) times in total). */
function concat<T>(a: T[], b: T[]): T[] {
  if (a.length < b.length) {
    for (const item of a) b.push(item);
    return b;
  }
  for (const item of b) a.push(item);
  return a;
}

function mergeInto(group: RawGroup, other: RawGroup): void {
  group.members = concat(group.members, other.members);
  group.events = concat(group.events, other.events);
  if (
    other.maxAt > group.maxAt ||
    (other.maxAt === group.maxAt && other.maxEvent > group.maxEvent)
  ) {
    group.maxAt = other.maxAt;
    group.maxEvent = other.maxEvent;
  }
}

function toEvidence(observation: Observation): Evidence {
  const at = observation.occurredAt.getTime();
  if (!Number.isFinite(at)) {
    throw new IdentityError(
      'INVALID_EVENT',
      `observation ${observation.eventId} has no valid occurredAt`,
    );
  }
  const ids: string[] = [];
  for (const identifier of observation.identifiers) {
    if (!isIdentifierKind(identifier.kind)) {
      throw new IdentityError(
        'INVALID_IDENTIFIER',
        `observation ${observation.eventId} has an identifier of unknown kind "${String(identifier.kind)}"`,
      );
    }
    // An empty value names nobody, whatever the rules say.
    if (identifier.value.length === 0) continue;
    const id = canonicalIdentifier(identifier);
    if (!ids.includes(id)) ids.push(id);
  }
  ids.sort(compareStrings);
  return { eventId: observation.eventId, at, source: observation.source, ids };
}

// ---------------------------------------------------------------------------------------------
// Public functions.

const cores = new WeakMap<IdentityGraph, GraphCore>();

function wrap(core: GraphCore): IdentityGraph {
  const graph = Object.freeze({}) as unknown as IdentityGraph;
  cores.set(graph, core);
  return graph;
}

function peek(graph: IdentityGraph): GraphCore {
  const core = cores.get(graph);
  if (core === undefined) {
    throw new IdentityError(
      'STALE_STATE',
      'this identity graph was already passed to a step; use the state the step returned',
    );
  }
  return core;
}

function take(graph: IdentityGraph): GraphCore {
  const core = peek(graph);
  cores.delete(graph);
  return core;
}

export function initialIdentityGraph(rules: IdentityRules = DEFAULT_IDENTITY_RULES): IdentityGraph {
  return wrap(new GraphCore(compileRulesOrThrow(rules)));
}

/**
 * Adds one observation. Idempotent by event id; an observation older than evidence already
 * held re-evaluates the identifiers it connects, so any arrival order gives the same graph.
 */
export function evolveIdentityGraph(state: IdentityGraph, observation: Observation): IdentityStep {
  const evidence = toEvidence(observation); // validates before taking ownership
  const core = take(state);
  const { decisions, changes } = core.observe(evidence);
  return { state: wrap(core), decisions, changes };
}

/** Replays a stored revocation (never throws: an unknown event id simply links nothing later). */
export function applyRevocation(state: IdentityGraph, revocation: Revocation): IdentityStep {
  const core = take(state);
  const { decisions, changes } = core.revoke(revocation);
  return { state: wrap(core), decisions, changes };
}

/**
 * An admin undoes a merge. Throws UNKNOWN_MERGE when the target names no evidence or link the
 * graph holds. The returned revocation is what to store so replays keep the merge undone.
 */
export function unmerge(state: IdentityGraph, target: UnmergeTarget): UnmergeResult {
  const core = peek(state);
  let revocation: Revocation;
  if ('eventId' in target) {
    if (!core.evidence.has(target.eventId)) {
      throw new IdentityError('UNKNOWN_MERGE', `no evidence with event id ${target.eventId}`);
    }
    revocation = { kind: 'evidence', eventId: target.eventId };
  } else if ('linkId' in target) {
    const pair = core.linkIndex.get(target.linkId);
    if (pair === undefined)
      throw new IdentityError('UNKNOWN_MERGE', `no link with id ${target.linkId}`);
    revocation = { kind: 'link', between: [core.identifier(pair[0]), core.identifier(pair[1])] };
  } else {
    const [a, b] = target.between.map(canonicalIdentifier) as [string, string];
    if (a === b) throw new IdentityError('UNKNOWN_MERGE', `${a} cannot be separated from itself`);
    if (!core.nodes.has(a) || !core.nodes.has(b)) {
      throw new IdentityError('UNKNOWN_MERGE', `${core.nodes.has(a) ? b : a} is not in the graph`);
    }
    revocation = { kind: 'link', between: [core.identifier(a), core.identifier(b)] };
  }
  return { ...applyRevocation(state, revocation), revocation };
}

/** The graph of the same observations and revocations under other rules (a full replay). */
export function withIdentityRules(state: IdentityGraph, rules: IdentityRules): IdentityStep {
  const compiled = compileRulesOrThrow(rules);
  const old = take(state);
  const core = rebuild(compiled, old.observations(), old.revocations());
  const before = new Map<string, string | null>();
  for (const id of old.nodes.keys()) before.set(id, old.customerOf(id));
  for (const id of core.nodes.keys()) if (!before.has(id)) before.set(id, null);
  const changes: IdentityChange[] = [];
  for (const [id, from] of before) {
    const to = core.customerOf(id);
    if (to !== from) changes.push({ identifier: core.identifier(id), from, to });
  }
  const oldDecisions = new Map(old.allDecisions().map((d) => [decisionKey(d), d]));
  const added = core.allDecisions().filter((d) => !oldDecisions.delete(decisionKey(d)));
  return {
    state: wrap(core),
    decisions: [
      ...[...oldDecisions.values()].map((decision) => ({
        type: 'DecisionWithdrawn' as const,
        decision,
      })),
      ...added,
    ],
    changes,
  };
}

function rebuild(
  compiled: CompiledRules,
  observations: readonly Observation[],
  revocations: readonly Revocation[],
): GraphCore {
  const core = new GraphCore(compiled);
  for (const revocation of revocations) core.revoke(revocation);
  const sorted = observations
    .map((observation) => ({ observation, evidence: toEvidence(observation) }))
    .sort((x, y) => compareEvidence(x.evidence, y.evidence));
  for (const { evidence } of sorted) core.observe(evidence);
  return core;
}

/** The graph as a function of its inputs: what a full replay (or a rule change) computes. */
export function buildIdentityGraph(
  observations: readonly Observation[],
  options: { readonly rules?: IdentityRules; readonly revocations?: readonly Revocation[] } = {},
): IdentityGraph {
  const compiled = compileRulesOrThrow(options.rules ?? DEFAULT_IDENTITY_RULES);
  return wrap(rebuild(compiled, observations, options.revocations ?? []));
}

export function identityGraphInputs(state: IdentityGraph): IdentityGraphInputs {
  const core = peek(state);
  return {
    rules: core.compiled.rules,
    observations: core.observations(),
    revocations: core.revocations(),
  };
}

/** An independent copy (a replay of the inputs), for keeping a graph while stepping another. */
export function cloneIdentityGraph(state: IdentityGraph): IdentityGraph {
  const inputs = identityGraphInputs(state);
  return buildIdentityGraph(inputs.observations, inputs);
}

// --- queries -----------------------------------------------------------------------------------

const keyOf = (identifier: Identifier | string): string =>
  typeof identifier === 'string' ? identifier : canonicalIdentifier(identifier);

/** The customer an identifier belongs to; null for one never seen, or blocked by the rules. */
export function customerOf(state: IdentityGraph, identifier: Identifier | string): string | null {
  return peek(state).customerOf(keyOf(identifier));
}

/**
 * Whether the graph holds an observation with this event id (whatever its identifiers, blocked
 * ones included): a graph built from stored observations answers "applied before?" without a query.
 */
export function hasObservation(state: IdentityGraph, eventId: string): boolean {
  return peek(state).evidence.has(eventId);
}

function componentOf(core: GraphCore, customerId: string): Component | null {
  const root = core.byCustomer.get(customerId);
  return root === undefined ? null : core.component(root);
}

/** The customer's identifiers, strongest kind first; empty for an unknown customer id. */
export function identifiersOf(state: IdentityGraph, customerId: string): Identifier[] {
  const core = peek(state);
  const component = componentOf(core, customerId);
  if (component === null) return [];
  return [...component.members]
    .sort((a, b) => core.rank(a) - core.rank(b) || compareStrings(a, b))
    .map((id) => core.identifier(id));
}

const byEvidence = <T extends { evidence: EvidenceRef; link: Link }>(a: T, b: T): number =>
  a.evidence.occurredAt.getTime() - b.evidence.occurredAt.getTime() ||
  compareStrings(a.evidence.eventId, b.evidence.eventId) ||
  compareStrings(a.link.linkId, b.link.linkId);

/** Why these identifiers are one customer: every accepted link with its event, in event order. */
export function evidenceOf(state: IdentityGraph, customerId: string): AcceptedLink[] {
  const component = componentOf(peek(state), customerId);
  return component === null ? [] : [...component.links].sort(byEvidence);
}

/** Merges with this customer that the rules refused, in event order. */
export function refusedOf(state: IdentityGraph, customerId: string): MergeRefused[] {
  const component = componentOf(peek(state), customerId);
  return component === null ? [] : [...component.refusals].sort(byEvidence);
}

/** Every customer and its identifiers, sorted by customer id: the partition, for comparisons. */
export function partitionOf(state: IdentityGraph): CustomerIdentity[] {
  const core = peek(state);
  return [...core.byCustomer.keys()]
    .sort(compareStrings)
    .map((customerId) => ({ customerId, identifiers: identifiersOf(state, customerId) }));
}

export function identityGraphStats(state: IdentityGraph): {
  readonly observations: number;
  readonly identifiers: number;
  readonly customers: number;
  readonly revocations: number;
} {
  const core = peek(state);
  return {
    observations: core.evidence.size,
    identifiers: core.nodes.size,
    customers: core.byCustomer.size,
    revocations: core.revokedEvents.size + core.forbiddenPairs.size,
  };
}
