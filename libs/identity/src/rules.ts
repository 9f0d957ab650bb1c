import { IdentityError } from './errors';
import { IDENTIFIER_KINDS, externalIdSystem, type IdentifierKind } from './identifier';

/** A regular expression (source text, matched case-insensitively) for values that never link. */
export interface BlockedPattern {
  /** Only identifiers of this kind; every kind when absent. */
  readonly kind?: IdentifierKind;
  readonly pattern: string;
}

/**
 * How identifiers may join. A plain, JSON-serializable object so it can live in configuration
 * and be replayed: the graph is a function of (rules, observations, revocations).
 */
export interface IdentityRules {
  /** Values that are never identifiers, compared trimmed and case-insensitively. */
  readonly blockedValues: readonly string[];
  readonly blockedPatterns: readonly BlockedPattern[];
  /**
   * The most identifiers of a kind one customer may hold; a merge that would exceed one is
   * refused. 0 means identifiers of that kind never link to anything.
   */
  readonly limits: {
    readonly userId: number;
    readonly anonymousId: number;
    readonly email: number;
    readonly phone: number;
    /** Per system: `crm:1` and `crm:2` count against the same limit, `crm:1` and `erp:9` do not. */
    readonly externalIdPerSystem: number;
  };
  /**
   * Strongest identifier first. Within one observation the strongest identifier is the anchor
   * the others are merged into, one at a time in this order; it also breaks ties between
   * identifiers first seen by the same event when choosing a customer's id.
   */
  readonly mergeOrder: readonly IdentifierKind[];
}

export const DEFAULT_IDENTITY_RULES: IdentityRules = {
  blockedValues: [
    '',
    'null',
    'undefined',
    'nil',
    'none',
    'nan',
    'n/a',
    'na',
    '0',
    '-1',
    'false',
    'true',
    'anonymous',
    'unknown',
    'guest',
    'user',
    'test',
    'default',
    '(not set)',
    'not set',
    '[object object]',
    '00000000-0000-0000-0000-000000000000',
    'test@test.com',
  ],
  blockedPatterns: [
    // Placeholder mailboxes people and forms type when they do not want to give an address.
    {
      kind: 'email',
      pattern:
        '^(?:test|fake|none|null|undefined|unknown|anonymous|nobody|noemail|no-email|noreply|no-reply|donotreply|do-not-reply|asdf)@',
    },
    // Special-use TLDs (RFC 6761) and domains that are not mailbox providers.
    { kind: 'email', pattern: '@(?:[^@]+\\.)?(?:test|invalid|localhost)$' },
    { kind: 'email', pattern: '@(?:test|fake|noemail|nomail)\\.com$' },
    // 8 or more repeated digits (+15555555555, +440000000000) and counting sequences.
    { kind: 'phone', pattern: '(\\d)\\1{7,}$' },
    { kind: 'phone', pattern: '^\\+\\d{0,3}0?123456789\\d?$' },
  ],
  limits: { userId: 1, anonymousId: 50, email: 5, phone: 5, externalIdPerSystem: 1 },
  mergeOrder: ['userId', 'externalId', 'email', 'phone', 'anonymousId'],
};

/** Rules checked once and prepared for fast lookups. */
export interface CompiledRules {
  readonly rules: IdentityRules;
  isBlocked(kind: IdentifierKind, value: string): boolean;
  /** Limit for a count key: a kind, or `externalId:<system>`. */
  limitOf(countKey: string): number;
  rankOf(kind: IdentifierKind): number;
}

/** The key an identifier is counted under for the per-kind limits. */
export function countKeyOf(kind: IdentifierKind, value: string): string {
  return kind === 'externalId' ? `externalId:${externalIdSystem(value)}` : kind;
}

export function compileRulesOrThrow(rules: IdentityRules): CompiledRules {
  for (const [kind, limit] of Object.entries(rules.limits)) {
    if (!Number.isInteger(limit) || limit < 0) {
      throw new IdentityError('INVALID_RULES', `limits.${kind} must be a whole number >= 0`);
    }
  }
  const order = [...rules.mergeOrder];
  if (
    order.length !== IDENTIFIER_KINDS.length ||
    IDENTIFIER_KINDS.some((k) => !order.includes(k))
  ) {
    throw new IdentityError(
      'INVALID_RULES',
      `mergeOrder must list each of ${IDENTIFIER_KINDS.join(', ')} once`,
    );
  }
  const blockedValues = new Set(rules.blockedValues.map((value) => value.trim().toLowerCase()));
  const patterns = rules.blockedPatterns.map(({ kind, pattern }) => {
    try {
      return { kind, regex: new RegExp(pattern, 'iu') };
    } catch (error: unknown) {
      throw new IdentityError(
        'INVALID_RULES',
        `blocked pattern /${pattern}/ does not compile: ${(error as Error).message}`,
      );
    }
  });
  const ranks = new Map(order.map((kind, index) => [kind, index]));
  const isBlockedValue = (value: string): boolean => blockedValues.has(value.trim().toLowerCase());
  return {
    rules,
    isBlocked(kind, value) {
      if (isBlockedValue(value)) return true;
      // `crm:null` is as empty as `null`: the system prefix does not make a placeholder real.
      const colon = kind === 'externalId' ? value.indexOf(':') : -1;
      if (colon >= 0 && isBlockedValue(value.slice(colon + 1))) return true;
      return patterns.some((p) => (p.kind === undefined || p.kind === kind) && p.regex.test(value));
    },
    limitOf(countKey) {
      if (countKey.startsWith('externalId:')) return rules.limits.externalIdPerSystem;
      return rules.limits[countKey as Exclude<IdentifierKind, 'externalId'>];
    },
    rankOf(kind) {
      return ranks.get(kind) ?? IDENTIFIER_KINDS.length;
    },
  };
}
