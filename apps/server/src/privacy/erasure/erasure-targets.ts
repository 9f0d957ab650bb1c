/**
 * Where a customer lives in the read models, by how its rows name it. Every read model with
 * per-customer rows must be listed here, or an erasure leaves that customer's rows behind
 * (docs/security.md, "Erasure"); the erasure end-to-end test scans every table of these schemas
 * for the person's data and fails when one is missed.
 */

import { NEXT_SCHEMA, PREVIOUS_SCHEMA } from '../../operations/shadow-tables';

/** The schemas whose tables hold rows about customers. */
export const READ_MODEL_SCHEMAS = ['read_models', 'models', 'identity'] as const;

/**
 * Where blue/green rebuilds keep copies of read_models tables under the same names: the version
 * being built and the version kept for rollback. A copy holds the same people as its live table,
 * so an erasure deletes from it too (docs/operations.md, "Blue/green rebuilds").
 */
export const COPY_SCHEMAS = [NEXT_SCHEMA, PREVIOUS_SCHEMA] as const;

/** A read_models table and its blue/green copies, in that order. */
export function withCopies(table: string): string[] {
  if (!table.startsWith('read_models.')) return [table];
  const name = table.slice('read_models.'.length);
  return [table, ...COPY_SCHEMAS.map((schema) => `${schema}.${name}`)];
}

/** Tables keyed by the stream id events arrived with (`user:ada`, `email:ada@example.com`). */
export const BY_CUSTOMER_KEY = [
  'read_models.customer_activity',
  'read_models.web_touchpoints',
  'read_models.customer_orders',
  'read_models.customer_refunds',
  'read_models.value_flags',
  'read_models.customer_value',
  'models.clv_scores',
  'read_models.customer_product_orders',
  'read_models.customer_product_lines',
  'read_models.customer_product_refunds',
  'read_models.customer_products',
] as const;

/** Tables keyed by a canonical identifier (`userId:ada`, `email:ada@example.com`). */
export const BY_IDENTIFIER = [
  'read_models.customer_identifiers',
  'read_models.identifier_facts',
  'read_models.customer_touchpoints',
  // Consent statements go with the person; a suppression (a keyed hash, privacy.suppressions)
  // stays, so that erasing someone never starts storing their events again.
  'read_models.consent_history',
] as const;

/** Tables keyed by the resolved customer id. */
export const BY_CUSTOMER_ID = ['read_models.customer_profiles', 'read_models.churn_flags'] as const;

/** Append-only history keyed by customer id: its trigger is lifted for the erasure only. */
export const APPEND_ONLY_BY_CUSTOMER_ID = [
  {
    table: 'read_models.churn_flag_events',
    trigger: 'churn_flag_events_append_only',
  },
] as const;

/**
 * The stream ids an identifier's events are stored under (the collector's keys): a Segment user
 * or anonymous id, an email, a phone, a contact centre's customer id (`crm:<id>` is stored as
 * `ext:<id>`, docs/identity.md).
 */
export function streamIdsOf(identifier: string): string[] {
  const colon = identifier.indexOf(':');
  if (colon < 0) return [];
  const kind = identifier.slice(0, colon);
  const value = identifier.slice(colon + 1);
  switch (kind) {
    case 'userId':
      return [`user:${value}`];
    case 'anonymousId':
      return [`anon:${value}`];
    case 'email':
    case 'phone':
      return [identifier];
    case 'externalId':
      return value.startsWith('crm:')
        ? [`ext:${value}`, `ext:${value.slice(4)}`]
        : [`ext:${value}`];
    default:
      return [];
  }
}

/** The identifier a stream id names (`user:ada` → `userId:ada`), or null for other ids. */
export function identifierOfStreamId(streamId: string): string | null {
  const colon = streamId.indexOf(':');
  if (colon < 0) return null;
  const prefix = streamId.slice(0, colon);
  const value = streamId.slice(colon + 1);
  if (value.length === 0) return null;
  switch (prefix) {
    case 'user':
      return `userId:${value}`;
    case 'anon':
      return `anonymousId:${value}`;
    case 'email':
    case 'phone':
      return streamId;
    case 'userId':
    case 'anonymousId':
    case 'externalId':
      return streamId;
    case 'ext':
      return `externalId:crm:${value}`;
    default:
      return null;
  }
}
