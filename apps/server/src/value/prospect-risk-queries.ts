import type { Pool } from 'pg';
import { decodeCursorOrThrow, encodeCursor } from '../cross-sell/cross-sell-params';

export type ProspectStage = 'lead' | 'first-order';
export type RiskValue = 'clv' | 'netRevenue';

/**
 * Where the previous page stopped: two sort keys of its last row (descending) and its customer
 * id. Prospects keep their ranking time as the second key, so every page ranks as of one time.
 */
export interface PageAfter {
  readonly keys: readonly [number, number];
  readonly customerId: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

/** The cross-sell cursor's format (two numbers and a customer id) serves these pages too. */
export function encodePageCursor(after: PageAfter): string {
  return encodeCursor({
    lift: after.keys[0],
    confidence: after.keys[1],
    customerId: after.customerId,
  });
}

export function decodePageCursorOrThrow(value: string | undefined): PageAfter | null {
  const after = decodeCursorOrThrow(value);
  return after === null
    ? null
    : { keys: [after.lift, after.confidence], customerId: after.customerId };
}

interface ProspectRow {
  customer_id: string;
  stage: ProspectStage;
  score: number;
  orders: number;
  net_revenue: string;
  currency: string;
  total_events: number;
  web_events: number;
  email_events: number;
  phone_events: number;
  other_events: number;
  email_clicks_90d: number;
  channels: number;
  first_seen_at: Date | null;
  last_seen_at: Date;
  last_contact_channel: string | null;
  days_since_last_seen: number;
}

interface RiskRow {
  customer_id: string;
  risk: number;
  reason_codes: string[];
  since: Date;
  as_of: Date;
  net_revenue: string;
  currency: string | null;
  orders: number;
  clv: number | null;
  fit_id: string | null;
  clv_at_risk: number | null;
  revenue_at_risk: number;
}

/**
 * "Which contacts are promising prospects and which are risks": one query each over the views
 * read_models.customer_prospects(_at) and read_models.customer_risks, with keyset pages.
 */
export class ProspectRiskQueries {
  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async prospects(
    stage: ProspectStage | null,
    limit: number,
    after: PageAfter | null,
  ): Promise<Page<Record<string, unknown>> & { rankedAt: string }> {
    const rankedAt = new Date(after?.keys[1] ?? this.clock().getTime()).toISOString();
    const { rows } = await this.pool.query<ProspectRow>(
      `SELECT * FROM read_models.customer_prospects_at($1::timestamptz)
        WHERE ($2::text IS NULL OR stage = $2)
          AND ($4::text IS NULL
               OR (-score, customer_id COLLATE "C") > (-$3::float8, $4::text COLLATE "C"))
        ORDER BY score DESC, customer_id COLLATE "C" LIMIT $5`,
      [rankedAt, stage, after?.keys[0] ?? null, after?.customerId ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      rankedAt,
      items: page.map((r) => ({
        customerId: r.customer_id,
        stage: r.stage,
        score: r.score,
        orders: r.orders,
        netRevenue: r.net_revenue,
        currency: r.currency,
        totalEvents: r.total_events,
        events: {
          web: r.web_events,
          email: r.email_events,
          phone: r.phone_events,
          other: r.other_events,
        },
        channels: r.channels,
        emailClicks90d: r.email_clicks_90d,
        firstSeenAt: r.first_seen_at?.toISOString() ?? null,
        lastSeenAt: r.last_seen_at.toISOString(),
        daysSinceLastSeen: r.days_since_last_seen,
        lastContactChannel: r.last_contact_channel,
      })),
      nextCursor:
        rows.length > limit && last !== undefined
          ? encodePageCursor({
              keys: [last.score, Date.parse(rankedAt)],
              customerId: last.customer_id,
            })
          : null,
    };
  }

  async risks(
    by: RiskValue,
    limit: number,
    after: PageAfter | null,
  ): Promise<Page<Record<string, unknown>>> {
    // Sort keys, all descending: by CLV at risk (customers without a score last), then revenue.
    // Both keys descending; netRevenue has one, and 0 in its place.
    const [k0, k1] =
      by === 'clv'
        ? ['coalesce(clv_at_risk, -1)', 'revenue_at_risk']
        : ['revenue_at_risk', '0::float8'];
    const { rows } = await this.pool.query<RiskRow & { k0: number; k1: number }>(
      `SELECT *, ${k0}::float8 AS k0, ${k1}::float8 AS k1 FROM read_models.customer_risks
        WHERE ($4::text IS NULL
               OR (-(${k0}), -(${k1}), customer_id COLLATE "C")
                  > (-$2::float8, -$3::float8, $4::text COLLATE "C"))
        ORDER BY ${k0} DESC, ${k1} DESC, customer_id COLLATE "C" LIMIT $1`,
      [limit + 1, after?.keys[0] ?? null, after?.keys[1] ?? null, after?.customerId ?? null],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        customerId: r.customer_id,
        risk: r.risk,
        reasonCodes: r.reason_codes,
        flaggedSince: r.since.toISOString(),
        asOf: r.as_of.toISOString(),
        clv: r.clv,
        clvAtRisk: r.clv_at_risk,
        fitId: r.fit_id,
        netRevenue: r.net_revenue,
        revenueAtRisk: r.revenue_at_risk,
        currency: r.currency,
        orders: r.orders,
      })),
      nextCursor:
        rows.length > limit && last !== undefined
          ? encodePageCursor({ keys: [last.k0, last.k1], customerId: last.customer_id })
          : null,
    };
  }
}
