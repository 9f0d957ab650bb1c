import type { RecordedEvent } from '@touchline/event-store';
import {
  anchorIdentifierOf,
  canonicalIdentifier,
  type CompiledRules,
  observationFromEvent,
} from '@touchline/identity';
import type { PoolClient } from 'pg';
import type { Projection } from '../../projector/projection';
import { identityRulesFromEnv } from '../../profiles/identity-rules-config';
import { type ConsentPurpose, isSmsOptOut, purposeOfSegmentCategory } from './consent-statement';

/** One purpose of one consent statement. */
export interface ConsentStatement {
  readonly eventId: string;
  readonly purpose: ConsentPurpose;
  readonly granted: boolean;
  /** web-banner, email-link, ... (ConsentChanged); segment-consent; email-unsubscribe; email-spam-complaint; sms-stop. */
  readonly source: string;
  /** The Segment category as sent, for segment-consent statements. */
  readonly category: string | null;
  /** True for explicit statements; Segment's per-call preferences repeat on every call. */
  readonly explicit: boolean;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The consent statements of one event, per purpose: a ConsentChanged; an unsubscribe or spam
 * complaint (email marketing withdrawn); Segment's `context.consent.categoryPreferences` on any
 * call, for the categories that name a purpose ("Analytics", "Email Marketing", ...).
 */
export function consentStatementsOf(event: {
  eventId: string;
  type: string;
  data: Record<string, unknown>;
}): ConsentStatement[] {
  const base = { eventId: event.eventId, category: null, explicit: true };
  if (event.type === 'ConsentChanged') {
    const { purpose, granted, source } = event.data;
    if (typeof purpose !== 'string' || typeof granted !== 'boolean') return [];
    return [
      {
        ...base,
        purpose: purpose as ConsentPurpose,
        granted,
        source: typeof source === 'string' ? source : 'unknown',
      },
    ];
  }
  if (event.type === 'EmailUnsubscribed')
    return [{ ...base, purpose: 'email_marketing', granted: false, source: 'email-unsubscribe' }];
  if (event.type === 'SmsReceived') {
    return isSmsOptOut(event.data['body'])
      ? [{ ...base, purpose: 'phone_marketing', granted: false, source: 'sms-stop' }]
      : [];
  }
  if (event.type === 'EmailMarkedAsSpam')
    return [
      { ...base, purpose: 'email_marketing', granted: false, source: 'email-spam-complaint' },
    ];
  const context = event.data['context'];
  const consent = isObject(context) ? context['consent'] : undefined;
  const preferences = isObject(consent) ? consent['categoryPreferences'] : undefined;
  if (!isObject(preferences)) return [];
  const statements: ConsentStatement[] = [];
  for (const [category, granted] of Object.entries(preferences).slice(0, 50)) {
    const purpose = purposeOfSegmentCategory(category);
    if (purpose === null || typeof granted !== 'boolean') continue;
    statements.push({
      eventId: event.eventId,
      purpose,
      granted,
      source: 'segment-consent',
      category,
      explicit: false,
    });
  }
  return statements;
}

interface Row extends ConsentStatement {
  identifier: string;
  streamId: string;
  eventType: string;
  occurredAt: Date;
}

interface Latest {
  occurredAt: Date;
  eventId: string;
  granted: boolean;
}

const later = (a: { occurredAt: Date; eventId: string }, b: Latest): boolean =>
  a.occurredAt.getTime() > b.occurredAt.getTime() ||
  (a.occurredAt.getTime() === b.occurredAt.getTime() && a.eventId > b.eventId);

const pairKey = (identifier: string, purpose: string) => `${identifier}\u0000${purpose}`;

/**
 * read_models.consent_history: every consent statement per purpose, under the identifier the
 * event is attributed to (its anchor, as the profile timeline does), so the history of all of a
 * customer's identifiers is found through read_models.customer_identifiers.
 *
 * Segment sends the banner's preferences with every call; such a statement is recorded only when
 * it changes the identifier's latest recorded value, so the history is of changes, not of page
 * views. Explicit statements (ConsentChanged, unsubscribes) are always recorded. Rows depend
 * only on the events in global order, never on batch boundaries, so a rebuild gives the same rows.
 */
export class ConsentHistoryProjection implements Projection {
  readonly name = 'consent_history';
  readonly version = 1;
  readonly tables: readonly string[];
  private readonly table: string;

  constructor(
    private readonly rules: CompiledRules,
    schema = 'read_models',
  ) {
    this.table = `${schema}.consent_history`;
    this.tables = [this.table];
  }

  /**
   * The same projection over its table in another schema (a blue/green rebuild's). Only its own
   * table moves because it reads no other: a statement's identifier comes from the event and the
   * identity rules; read_models.customer_identifiers (owned by customer_profiles) is joined only
   * by the API, when it reads, always live. Reading those live rows here would file a replay's
   * old events under today's identity graph, so the rebuilt rows would depend on how far
   * customer_profiles had got and could not equal what the live projector wrote.
   */
  inSchema(schema: string): ConsentHistoryProjection {
    return new ConsentHistoryProjection(this.rules, schema);
  }

  async apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    const candidates: Row[] = [];
    for (const event of events) {
      const statements = consentStatementsOf(event);
      if (statements.length === 0) continue;
      const time = event.metadata['occurredAt'];
      const occurredAt = new Date(typeof time === 'string' ? time : Number.NaN);
      if (Number.isNaN(occurredAt.getTime())) continue;
      const observation = observationFromEvent({ ...event, occurredAt });
      const anchor = observation ? anchorIdentifierOf(observation, this.rules) : null;
      // Only blocked placeholder ids (test@test.com): no customer to show the statement on.
      if (anchor === null) continue;
      const identifier = canonicalIdentifier(anchor);
      for (const statement of statements) {
        candidates.push({
          ...statement,
          identifier,
          streamId: event.streamId,
          eventType: event.type,
          occurredAt,
        });
      }
    }
    if (candidates.length === 0) return;

    const latest = await this.latestOf(client, candidates);
    const rows: Row[] = [];
    for (const row of candidates) {
      const key = pairKey(row.identifier, row.purpose);
      const current = latest.get(key);
      const isLater = current === undefined || later(row, current);
      if (!row.explicit && current !== undefined && isLater && current.granted === row.granted)
        continue;
      rows.push(row);
      if (isLater) latest.set(key, row);
    }
    if (rows.length === 0) return;
    await client.query(
      `INSERT INTO ${this.table}
         (event_id, purpose, identifier, stream_id, granted, source, event_type, category, occurred_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[],
                            $6::text[], $7::text[], $8::text[], $9::timestamptz[])
       ON CONFLICT DO NOTHING`,
      [
        rows.map((r) => r.eventId),
        rows.map((r) => r.purpose),
        rows.map((r) => r.identifier),
        rows.map((r) => r.streamId),
        rows.map((r) => r.granted),
        rows.map((r) => r.source),
        rows.map((r) => r.eventType),
        rows.map((r) => r.category),
        rows.map((r) => r.occurredAt),
      ],
    );
  }

  /** The latest recorded statement of each (identifier, purpose) the batch touches. */
  private async latestOf(client: PoolClient, rows: readonly Row[]): Promise<Map<string, Latest>> {
    const pairs = [...new Map(rows.map((r) => [pairKey(r.identifier, r.purpose), r])).values()];
    const { rows: found } = await client.query<{
      identifier: string;
      purpose: string;
      occurred_at: Date;
      event_id: string;
      granted: boolean;
    }>(
      `SELECT DISTINCT ON (h.identifier, h.purpose)
              h.identifier, h.purpose, h.occurred_at, h.event_id, h.granted
         FROM ${this.table} h
         JOIN unnest($1::text[], $2::text[]) AS p(identifier, purpose)
           ON h.identifier = p.identifier AND h.purpose = p.purpose
        ORDER BY h.identifier, h.purpose, h.occurred_at DESC, h.event_id DESC`,
      [pairs.map((p) => p.identifier), pairs.map((p) => p.purpose)],
    );
    return new Map(
      found.map((r) => [
        pairKey(r.identifier, r.purpose),
        { occurredAt: r.occurred_at, eventId: r.event_id, granted: r.granted },
      ]),
    );
  }
}

/** The projection with the configured identity rules (the profile projection's). */
export function consentHistoryProjectionFromEnv(env: NodeJS.ProcessEnv): ConsentHistoryProjection {
  return new ConsentHistoryProjection(identityRulesFromEnv(env));
}
