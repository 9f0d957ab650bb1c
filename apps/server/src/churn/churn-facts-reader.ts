import {
  CHURN_MAX_LISTED,
  type ChurnConfig,
  type CustomerChurnFacts,
} from '@touchline/customer-value';
import type { Pool } from 'pg';
import {
  CONTACT_DAYS_SQL,
  OPEN_TICKETS_SQL,
  OPT_OUTS_SQL,
  PURCHASES_SQL,
  VISITS_SQL,
  WINDOWED_SQL,
} from './churn-facts.sql';

const DAY_MS = 86_400_000;

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };

const daysBefore = (asOf: Date, days: number) => new Date(asOf.getTime() - days * DAY_MS);

/** A LIKE pattern matching the text anywhere, with LIKE's own wildcards taken literally. */
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The facts of a batch of customers as of a time, in six set-based statements (whatever the
 * batch size), shaped for the pure evaluation. The windows come from the configuration so that
 * only the rows that can matter are read; the evaluation checks them again.
 */
export class ChurnFactsReader {
  constructor(private readonly pool: Pool) {}

  async read(
    customerIds: readonly string[],
    asOf: Date,
    config: ChurnConfig,
  ): Promise<Map<string, CustomerChurnFacts>> {
    const facts = new Map<string, Mutable<CustomerChurnFacts>>();
    for (const customerId of customerIds) {
      facts.set(customerId, {
        customerId,
        contactDays: [],
        optOuts: [],
        bounces: [],
        missedCalls: [],
        openTickets: [],
        outcomes: [],
        visits: null,
        purchases: null,
      });
    }
    if (customerIds.length === 0) return facts;
    const ids = [...customerIds];
    const of = (customerId: string) => facts.get(customerId);
    const overdue = config['overdue-contact'];
    const visits = config['falling-visits'];
    const [contactDays, optOuts, windowed, tickets, visitCounts, purchases] = await Promise.all([
      this.pool.query<{ customer_id: string; days: number[] }>(CONTACT_DAYS_SQL, [
        ids,
        asOf,
        overdue.contactTypes,
        overdue.historyContactDays,
      ]),
      this.pool.query<{
        customer_id: string;
        type: 'EmailUnsubscribed' | 'EmailMarkedAsSpam';
        occurred_at: Date;
        scope: string | null;
      }>(OPT_OUTS_SQL, [ids, asOf, CHURN_MAX_LISTED]),
      this.pool.query<{
        customer_id: string;
        type: string;
        occurred_at: Date;
        bounce_type: string | null;
        direction: string | null;
        reason: string | null;
        outcome: string | null;
      }>(WINDOWED_SQL, [
        ids,
        asOf,
        daysBefore(asOf, config['hard-bounces'].windowDays),
        daysBefore(asOf, config['missed-calls'].windowDays),
        config['missed-calls'].directions,
        daysBefore(asOf, config.complaint.windowDays),
        config.complaint.outcomePatterns.map(containsPattern),
        CHURN_MAX_LISTED,
      ]),
      this.pool.query<{ customer_id: string; ticket_id: string; opened_at: Date }>(
        OPEN_TICKETS_SQL,
        [ids, asOf, CHURN_MAX_LISTED],
      ),
      this.pool.query<{ customer_id: string; recent: number; previous: number }>(VISITS_SQL, [
        ids,
        asOf,
        daysBefore(asOf, 2 * visits.windowDays),
        daysBefore(asOf, visits.windowDays),
        visits.visitTypes,
        visits.sessionTimeoutMinutes,
      ]),
      this.pool.query<{
        customer_id: string;
        first_day: number;
        last_day: number;
        distinct_days: number;
      }>(PURCHASES_SQL, [ids, asOf]),
    ]);
    for (const row of contactDays.rows) {
      const target = of(row.customer_id);
      if (target) target.contactDays = row.days;
    }
    for (const row of optOuts.rows) {
      of(row.customer_id)?.optOuts.push({ type: row.type, at: row.occurred_at, scope: row.scope });
    }
    for (const row of windowed.rows) {
      const target = of(row.customer_id);
      if (!target) continue;
      if (row.type === 'EmailBounced') {
        target.bounces.push({ at: row.occurred_at, bounceType: row.bounce_type });
      } else if (row.type === 'CallMissed') {
        target.missedCalls.push({
          at: row.occurred_at,
          direction: row.direction,
          reason: row.reason,
        });
      } else if (row.outcome !== null) {
        target.outcomes.push({ at: row.occurred_at, type: row.type, outcome: row.outcome });
      }
    }
    for (const row of tickets.rows) {
      of(row.customer_id)?.openTickets.push({ ticketId: row.ticket_id, openedAt: row.opened_at });
    }
    for (const row of visitCounts.rows) {
      const target = of(row.customer_id);
      if (target) target.visits = { recent: row.recent, previous: row.previous };
    }
    for (const row of purchases.rows) {
      const target = of(row.customer_id);
      if (target)
        target.purchases = {
          firstDay: row.first_day,
          lastDay: row.last_day,
          distinctDays: row.distinct_days,
        };
    }
    return facts;
  }
}
