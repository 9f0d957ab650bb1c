export type {
  CustomersMerged,
  DecisionWithdrawn,
  EvidenceRef,
  IdentifierLinked,
  IdentityChange,
  IdentityDecision,
  IdentityDecisionEvent,
  Link,
  MergeRefused,
  RefusalReason,
} from './decisions';
export { anchorIdentifierOf } from './anchor';
export { IdentityError, isIdentityError, type IdentityErrorCode } from './errors';
export {
  canonicalIdentifier,
  externalIdSystem,
  IDENTIFIER_KINDS,
  isIdentifierKind,
  parseIdentifierOrThrow,
  type Identifier,
  type IdentifierKind,
} from './identifier';
export { customerIdFor, linkIdFor } from './ids';
export {
  applyRevocation,
  buildIdentityGraph,
  cloneIdentityGraph,
  customerOf,
  evidenceOf,
  evolveIdentityGraph,
  hasObservation,
  identifiersOf,
  identityGraphInputs,
  identityGraphStats,
  initialIdentityGraph,
  partitionOf,
  refusedOf,
  unmerge,
  withIdentityRules,
  type CustomerIdentity,
  type IdentityGraph,
  type IdentityGraphInputs,
  type IdentityStep,
  type Revocation,
  type UnmergeResult,
  type UnmergeTarget,
} from './identity-graph';
export type { EvidenceSource, Observation } from './observation';
export {
  observationFromEvent,
  type ObservationOptions,
  type StoredEventLike,
} from './observation-from-event';
export {
  compileRulesOrThrow,
  DEFAULT_IDENTITY_RULES,
  type BlockedPattern,
  type CompiledRules,
  type IdentityRules,
} from './rules';
