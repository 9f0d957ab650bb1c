import { type IQuery, type IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { DataSource } from 'typeorm';
import { TouchlineException } from '../common/touchline.exception';
import { candidateKeys } from './get-customer-activity.query';

export class GetCustomerSessionsQuery implements IQuery {
  constructor(
    readonly customerId: string,
    readonly timeoutMinutes: number,
    readonly limit: number,
  ) {}
}

export interface SessionDto {
  readonly sessionNumber: number;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly events: number;
  readonly landingUrl: string | null;
  readonly landingPath: string | null;
  readonly referrer: string | null;
  readonly campaign: {
    source: string | null;
    medium: string | null;
    name: string | null;
    term: string | null;
    content: string | null;
  };
}

interface SessionRow {
  customer_key: string;
  session_number: string;
  started_at: Date;
  ended_at: Date;
  events: string;
  landing_url: string | null;
  landing_path: string | null;
  referrer: string | null;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  utm_term: string | null;
  utm_content: string | null;
}

/** A customer's web sessions, newest first, from read_models.web_sessions_with_timeout. */
@QueryHandler(GetCustomerSessionsQuery)
export class GetCustomerSessionsHandler implements IQueryHandler<
  GetCustomerSessionsQuery,
  { customerKey: string; sessions: SessionDto[] }
> {
  constructor(private readonly dataSource: DataSource) {}

  async execute(
    query: GetCustomerSessionsQuery,
  ): Promise<{ customerKey: string; sessions: SessionDto[] }> {
    const keys = candidateKeys(query.customerId);
    const known = await this.dataSource.query<Array<{ customer_key: string }>>(
      'SELECT customer_key FROM read_models.customer_activity WHERE customer_key = ANY($1::text[])',
      [keys],
    );
    const customerKey = keys.find((key) => known.some((row) => row.customer_key === key));
    if (!customerKey)
      throw new TouchlineException(
        'NOT_FOUND',
        `No customer "${query.customerId}": no event has been recorded for this id yet.`,
      );
    // The function scans one customer's rows through the (customer_key, occurred_at) index.
    const rows = await this.dataSource.query<SessionRow[]>(
      `SELECT * FROM read_models.web_sessions_with_timeout(make_interval(mins => $2))
        WHERE customer_key = $1 ORDER BY session_number DESC LIMIT $3`,
      [customerKey, query.timeoutMinutes, query.limit],
    );
    return {
      customerKey,
      sessions: rows.map((row) => ({
        sessionNumber: Number(row.session_number),
        startedAt: row.started_at.toISOString(),
        endedAt: row.ended_at.toISOString(),
        events: Number(row.events),
        landingUrl: row.landing_url,
        landingPath: row.landing_path,
        referrer: row.referrer,
        campaign: {
          source: row.utm_source,
          medium: row.utm_medium,
          name: row.utm_campaign,
          term: row.utm_term,
          content: row.utm_content,
        },
      })),
    };
  }
}
