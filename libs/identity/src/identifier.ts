import { IdentityError } from './errors';

export const IDENTIFIER_KINDS = ['userId', 'externalId', 'email', 'phone', 'anonymousId'] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];

/**
 * Something that names a person. Values are expected normalized by the edge: emails trimmed and
 * lowercased, phones E.164, external ids namespaced by their system (`crm:123`,
 * `hubspot_contact_id:42`). user and anonymous ids are compared exactly, as Segment does.
 */
export interface Identifier {
  readonly kind: IdentifierKind;
  readonly value: string;
}

/** `email:ada@example.com`: one string per identifier, the key of every map in the graph. */
export function canonicalIdentifier(identifier: Identifier): string {
  return `${identifier.kind}:${identifier.value}`;
}

export function isIdentifierKind(value: string): value is IdentifierKind {
  return (IDENTIFIER_KINDS as readonly string[]).includes(value);
}

export function parseIdentifierOrThrow(canonical: string): Identifier {
  const colon = canonical.indexOf(':');
  const kind = colon < 0 ? '' : canonical.slice(0, colon);
  const value = canonical.slice(colon + 1);
  if (!isIdentifierKind(kind) || value.length === 0) {
    throw new IdentityError(
      'INVALID_IDENTIFIER',
      `"${canonical}" is not <kind>:<value> with kind one of ${IDENTIFIER_KINDS.join(', ')}`,
    );
  }
  return { kind, value };
}

/** The system of an external id (`crm` in `crm:123`); '' when the value has no namespace. */
export function externalIdSystem(value: string): string {
  const colon = value.indexOf(':');
  return colon < 0 ? '' : value.slice(0, colon);
}
