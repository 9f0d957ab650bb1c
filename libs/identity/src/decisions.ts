import type { Identifier } from './identifier';
import type { EvidenceSource } from './observation';

/** The event that is the evidence for a decision. */
export interface EvidenceRef {
  readonly eventId: string;
  readonly occurredAt: Date;
  readonly source: EvidenceSource;
  /** Every identifier the event saw that the rules did not block. */
  readonly identifiers: readonly Identifier[];
}

/**
 * The pair an observation tried to join: its strongest identifier (the anchor) and one other.
 * linkId is the same for the pair in either order; `unmerge({ linkId })` keeps the pair apart.
 */
export interface Link {
  readonly linkId: string;
  readonly between: readonly [Identifier, Identifier];
}

/** An identifier seen for the first time joined an existing customer. */
export interface IdentifierLinked {
  readonly type: 'IdentifierLinked';
  readonly customerId: string;
  readonly identifier: Identifier;
  readonly link: Link;
  readonly evidence: EvidenceRef;
}

/** Two customers are one: the survivor keeps its id, the merged id is retired. */
export interface CustomersMerged {
  readonly type: 'CustomersMerged';
  readonly survivorId: string;
  readonly mergedId: string;
  readonly link: Link;
  readonly evidence: EvidenceRef;
}

export type RefusalReason =
  | {
      readonly code: 'LIMIT_EXCEEDED';
      /** The kind, or `externalId:<system>`. */
      readonly countKey: string;
      readonly limit: number;
      readonly message: string;
    }
  | {
      readonly code: 'UNMERGED_BY_ADMIN';
      /** The pair an admin separated, which the merge would have put back together. */
      readonly linkId: string;
      readonly between: readonly [Identifier, Identifier];
      readonly message: string;
    };

/** A merge the rules did not allow; nothing of it was applied. */
export interface MergeRefused {
  readonly type: 'MergeRefused';
  /** The anchor's customer. */
  readonly customerId: string;
  readonly otherCustomerId: string;
  readonly link: Link;
  readonly reason: RefusalReason;
  readonly evidence: EvidenceRef;
}

export type IdentityDecision = IdentifierLinked | CustomersMerged | MergeRefused;

/** A decision that no longer holds: a late event, an unmerge or new rules changed the outcome. */
export interface DecisionWithdrawn {
  readonly type: 'DecisionWithdrawn';
  readonly decision: IdentityDecision;
}

/** What one step reports, to be stored as events (the audit of "why are these merged"). */
export type IdentityDecisionEvent = IdentityDecision | DecisionWithdrawn;

/** An identifier whose customer changed: what a profile projection re-keys. null: none. */
export interface IdentityChange {
  readonly identifier: Identifier;
  readonly from: string | null;
  readonly to: string | null;
}
