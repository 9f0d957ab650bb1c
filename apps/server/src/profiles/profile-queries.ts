import { encodeCursor } from '../common/pair-cursor';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TouchlineException } from '../common/touchline.exception';

export interface ProfileDto {
  customerId: string;
  identifiers: { kind: string; value: string }[];
  traits: Record<string, unknown>;
  firstSeenAt: string | null;
  lastSeenAt: string | null;
  channels: Record<'web' | 'email' | 'phone' | 'other', { events: number }>;
  totalEvents: number;
  lastContact: { at: string; channel: string; type: string; summary: string | null } | null;
  orders: { count: number; netRevenue: string; currency: string };
  consent: unknown;
}

export interface ProfileRow {
  customer_id: string;
  identifiers: string[];
  traits: Record<string, unknown>;
  first_seen_at: Date | null;
  last_seen_at: Date | null;
  web_events: number;
  email_events: number;
  phone_events: number;
  other_events: number;
  total_events: number;
  last_contact_at: Date | null;
  last_contact_channel: string | null;
  last_contact_type: string | null;
  last_contact_summary: string | null;
  orders: number;
  net_revenue: string;
  currency: string;
  consent: unknown;
}

export interface TimelineEntryDto {
  eventId: string;
  occurredAt: string;
  channel: string;
  type: string;
  summary: string | null;
  identifier: string;
}

export interface SessionDto {
  startedAt: string;
  endedAt: string;
  events: number;
  /** The identifiers the session's events arrived with: an anonymous id before sign-up. */
  identifiers: { kind: string; value: string }[];
  landingUrl: string | null;
  referrer: string | null;
  campaign: { source: string | null; medium: string | null; name: string | null };
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface TimelineFilter {
  channels: string[] | null;
  types: string[] | null;
  order: 'asc' | 'desc';
  limit: number;
  after: { occurredAt: string; eventId: string } | null;
}

export const SORT_COLUMNS = {
  lastSeenAt: `coalesce(last_seen_at, '-infinity')`,
  firstSeenAt: `coalesce(first_seen_at, '-infinity')`,
  totalEvents: 'total_events',
  netRevenue: 'net_revenue',
} as const;
export type SortKey = keyof typeof SORT_COLUMNS;

export interface ProfileSearch {
  traits: { name: string; value: string }[];
  lastSeenFrom: Date | null;
  lastSeenTo: Date | null;
  channels: ('web' | 'email' | 'phone' | 'other')[];
  minEvents: number;
  sort: SortKey;
  order: 'asc' | 'desc';
  limit: number;
  after: { value: string; customerId: string } | null;
}

const splitIdentifier = (canonical: string) => {
  const colon = canonical.indexOf(':');
  return { kind: canonical.slice(0, colon), value: canonical.slice(colon + 1) };
};

const iso = (value: Date | null) => (value === null ? null : value.toISOString());

export function profileDtoOf(row: ProfileRow): ProfileDto {
  return {
    customerId: row.customer_id,
    identifiers: row.identifiers.map(splitIdentifier),
    traits: row.traits,
    firstSeenAt: iso(row.first_seen_at),
    lastSeenAt: iso(row.last_seen_at),
    channels: {
      web: { events: row.web_events },
      email: { events: row.email_events },
      phone: { events: row.phone_events },
      other: { events: row.other_events },
    },
    totalEvents: row.total_events,
    lastContact:
      row.last_contact_at === null
        ? null
        : {
            at: row.last_contact_at.toISOString(),
            channel: row.last_contact_channel ?? 'unknown',
            type: row.last_contact_type ?? 'unknown',
            summary: row.last_contact_summary,
          },
    orders: { count: row.orders, netRevenue: row.net_revenue, currency: row.currency },
    consent: row.consent,
  };
}

/** The profile read models, read with plain SQL through the query role's connection. */
@Injectable()
export class ProfileQueries {
  constructor(private readonly dataSource: DataSource) {}

  async profileOrThrow(customerId: string): Promise<ProfileDto> {
    const rows: ProfileRow[] = await this.dataSource.query(
      'SELECT * FROM read_models.customer_profiles WHERE customer_id = $1',
      [customerId],
    );
    const row = rows[0];
    if (row === undefined) {
      throw new TouchlineException('NOT_FOUND', `No customer with id ${customerId}`);
    }
    return profileDtoOf(row);
  }

  /** The customer an identifier belongs to; the message does not repeat the (personal) value. */
  async customerIdByIdentifierOrThrow(canonical: string, described: string): Promise<string> {
    const rows: { customer_id: string }[] = await this.dataSource.query(
      'SELECT customer_id FROM read_models.customer_identifiers WHERE identifier = $1',
      [canonical],
    );
    const row = rows[0];
    if (row === undefined) {
      throw new TouchlineException('NOT_FOUND', `No customer has this ${described}`);
    }
    return row.customer_id;
  }

  private async identifiersOrThrow(customerId: string): Promise<string[]> {
    const rows: { identifier: string }[] = await this.dataSource.query(
      'SELECT identifier FROM read_models.customer_identifiers WHERE customer_id = $1',
      [customerId],
    );
    if (rows.length === 0) {
      throw new TouchlineException('NOT_FOUND', `No customer with id ${customerId}`);
    }
    return rows.map((r) => r.identifier);
  }

  /** Every accepted and refused link touching the customer's identifiers, with its evidence. */
  async mergesOrThrow(customerId: string) {
    const identifiers = await this.identifiersOrThrow(customerId);
    const rows: {
      link_id: string;
      status: string;
      identifier_a: string;
      identifier_b: string;
      event_id: string;
      occurred_at: Date;
      source: string;
      evidence_identifiers: string[];
      reason_code: string | null;
      reason: string | null;
    }[] = await this.dataSource.query(
      `SELECT * FROM read_models.identity_links
        WHERE identifier_a = ANY($1::text[]) OR identifier_b = ANY($1::text[])
        ORDER BY occurred_at, event_id, link_id, status`,
      [identifiers],
    );
    return {
      customerId,
      identifiers: [...identifiers].sort().map(splitIdentifier),
      links: rows.map((row) => ({
        linkId: row.link_id,
        status: row.status,
        between: [splitIdentifier(row.identifier_a), splitIdentifier(row.identifier_b)],
        evidence: {
          eventId: row.event_id,
          occurredAt: row.occurred_at.toISOString(),
          source: row.source,
          identifiers: row.evidence_identifiers.map(splitIdentifier),
        },
        refusal: row.reason_code === null ? null : { code: row.reason_code, message: row.reason },
      })),
    };
  }

  /**
   * Web sessions across every identifier of the customer, so the anonymous visits before sign-up
   * and the visits on other devices are one list: 30 minutes without a web event end a session.
   */
  async sessionsOrThrow(customerId: string, limit: number): Promise<{ items: SessionDto[] }> {
    const identifiers = await this.identifiersOrThrow(customerId);
    const rows: {
      started_at: Date;
      ended_at: Date;
      events: string;
      identifiers: string[];
      landing_url: string | null;
      referrer: string | null;
      utm_source: string | null;
      utm_medium: string | null;
      utm_campaign: string | null;
    }[] = await this.dataSource.query(
      `WITH web AS (
         SELECT t.event_id, t.identifier, t.occurred_at, w.url, w.referrer, w.utm_source, w.utm_medium, w.utm_campaign,
                CASE WHEN lag(t.occurred_at) OVER o IS NULL
                       OR t.occurred_at - lag(t.occurred_at) OVER o > interval '30 minutes' THEN 1 ELSE 0 END AS starts
           FROM read_models.customer_touchpoints t
           LEFT JOIN read_models.web_touchpoints w USING (event_id)
          WHERE t.identifier = ANY($1::text[]) AND t.channel = 'web'
         WINDOW o AS (ORDER BY t.occurred_at, t.event_id)
       ), numbered AS (
         SELECT web.*, sum(starts) OVER (ORDER BY occurred_at, event_id) AS session FROM web
       )
       SELECT min(occurred_at) AS started_at, max(occurred_at) AS ended_at, count(*) AS events,
              array_agg(DISTINCT identifier ORDER BY identifier) AS identifiers,
              (array_agg(url ORDER BY occurred_at, event_id))[1] AS landing_url,
              (array_agg(referrer ORDER BY occurred_at, event_id))[1] AS referrer,
              (array_agg(utm_source ORDER BY occurred_at, event_id))[1] AS utm_source,
              (array_agg(utm_medium ORDER BY occurred_at, event_id))[1] AS utm_medium,
              (array_agg(utm_campaign ORDER BY occurred_at, event_id))[1] AS utm_campaign
         FROM numbered GROUP BY session ORDER BY session DESC LIMIT $2`,
      [identifiers, limit],
    );
    return {
      items: rows.map((row) => ({
        startedAt: row.started_at.toISOString(),
        endedAt: row.ended_at.toISOString(),
        events: Number(row.events),
        identifiers: row.identifiers.map(splitIdentifier),
        landingUrl: row.landing_url,
        referrer: row.referrer,
        campaign: { source: row.utm_source, medium: row.utm_medium, name: row.utm_campaign },
      })),
    };
  }

  async timelineOrThrow(
    customerId: string,
    filter: TimelineFilter,
  ): Promise<Page<TimelineEntryDto>> {
    const identifiers = await this.identifiersOrThrow(customerId);
    const params: unknown[] = [identifiers];
    const where = ['identifier = ANY($1::text[])'];
    if (filter.channels !== null) {
      params.push(filter.channels);
      where.push(`channel = ANY($${params.length}::text[])`);
    }
    if (filter.types !== null) {
      params.push(filter.types);
      where.push(`type = ANY($${params.length}::text[])`);
    }
    if (filter.after !== null) {
      params.push(filter.after.occurredAt, filter.after.eventId);
      const op = filter.order === 'asc' ? '>' : '<';
      where.push(
        `(occurred_at, event_id) ${op} ($${params.length - 1}::timestamptz, $${params.length}::text)`,
      );
    }
    params.push(filter.limit + 1);
    const direction = filter.order === 'asc' ? 'ASC' : 'DESC';
    const rows: {
      event_id: string;
      identifier: string;
      occurred_at: Date;
      channel: string;
      type: string;
      summary: string | null;
    }[] = await this.dataSource.query(
      `SELECT event_id, identifier, occurred_at, channel, type, summary
         FROM read_models.customer_touchpoints
        WHERE ${where.join(' AND ')}
        ORDER BY occurred_at ${direction}, event_id ${direction}
        LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, filter.limit).map((row) => ({
      eventId: row.event_id,
      occurredAt: row.occurred_at.toISOString(),
      channel: row.channel,
      type: row.type,
      summary: row.summary,
      identifier: row.identifier,
    }));
    const last = items[items.length - 1];
    return {
      items,
      nextCursor:
        rows.length > filter.limit && last !== undefined
          ? encodeCursor([last.occurredAt, last.eventId])
          : null,
    };
  }

  async search(search: ProfileSearch): Promise<Page<ProfileDto>> {
    const params: unknown[] = [];
    const where: string[] = [];
    const bind = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    for (const { name, value } of search.traits) {
      // A query string is text; a trait may be stored as a number or a boolean.
      const alternatives = [JSON.stringify({ [name]: value })];
      const typed: unknown = /^(true|false|-?\d+(\.\d+)?)$/.test(value)
        ? JSON.parse(value)
        : undefined;
      if (typed !== undefined) alternatives.push(JSON.stringify({ [name]: typed }));
      where.push(`(${alternatives.map((a) => `traits @> ${bind(a)}::jsonb`).join(' OR ')})`);
    }
    if (search.lastSeenFrom !== null) where.push(`last_seen_at >= ${bind(search.lastSeenFrom)}`);
    if (search.lastSeenTo !== null) where.push(`last_seen_at < ${bind(search.lastSeenTo)}`);
    for (const channel of search.channels) {
      where.push(`${channel}_events >= ${bind(search.minEvents)}`);
    }
    if (search.channels.length === 0 && search.minEvents > 1) {
      where.push(`total_events >= ${bind(search.minEvents)}`);
    }
    const sortExpression = SORT_COLUMNS[search.sort];
    const op = search.order === 'asc' ? '>' : '<';
    if (search.after !== null) {
      const cast =
        search.sort === 'lastSeenAt' || search.sort === 'firstSeenAt' ? 'timestamptz' : 'numeric';
      where.push(
        `(${sortExpression}, customer_id) ${op} (${bind(search.after.value)}::${cast}, ${bind(search.after.customerId)}::text)`,
      );
    }
    const direction = search.order === 'asc' ? 'ASC' : 'DESC';
    const rows: (ProfileRow & { sort_value: string })[] = await this.dataSource.query(
      `SELECT *, (${sortExpression})::text AS sort_value FROM read_models.customer_profiles
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY ${sortExpression} ${direction}, customer_id ${direction}
        LIMIT ${bind(search.limit + 1)}`,
      params,
    );
    const page = rows.slice(0, search.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(profileDtoOf),
      nextCursor:
        rows.length > search.limit && last !== undefined
          ? encodeCursor([last.sort_value, last.customer_id])
          : null,
    };
  }
}
