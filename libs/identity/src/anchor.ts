import { canonicalIdentifier, type Identifier } from './identifier';
import type { Observation } from './observation';
import type { CompiledRules } from './rules';

/**
 * The one identifier an event is attributed to: the strongest unblocked identifier of its
 * observation by the rules' merge order (ties by canonical string). It is the graph's anchor for
 * the same observation, so a profile counts each event once, under the customer whose call it was
 * (an identify whose shared-device anonymous id belongs to someone else still counts for its user).
 * null when every identifier is blocked.
 */
export function anchorIdentifierOf(
  observation: Pick<Observation, 'identifiers'>,
  rules: CompiledRules,
): Identifier | null {
  let best: Identifier | null = null;
  let bestRank = Number.POSITIVE_INFINITY;
  let bestKey = '';
  for (const identifier of observation.identifiers) {
    if (rules.isBlocked(identifier.kind, identifier.value)) continue;
    const rank = rules.rankOf(identifier.kind);
    const key = canonicalIdentifier(identifier);
    if (rank < bestRank || (rank === bestRank && key < bestKey)) {
      best = identifier;
      bestRank = rank;
      bestKey = key;
    }
  }
  return best;
}
