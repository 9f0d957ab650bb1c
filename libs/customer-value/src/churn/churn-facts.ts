import type { BgNbdParameters } from '../bg-nbd';

/**
 * What is known about one unified customer as of the evaluation: only events at or before the
 * as-of time, gathered by the caller (set-based SQL in the server). Lists are the latest rows,
 * capped (CHURN_MAX_LISTED); windows are the configured ones, but the evaluation re-checks every
 * time against `asOf` itself, so facts gathered over a wider window give the same flags.
 */
export interface CustomerChurnFacts {
  readonly customerId: string;
  /** UTC days (days since 1970-01-01) with at least one contact-type event, ascending, distinct. */
  readonly contactDays: readonly number[];
  /** EmailUnsubscribed and EmailMarkedAsSpam, any time before the evaluation. */
  readonly optOuts: readonly {
    readonly type: 'EmailUnsubscribed' | 'EmailMarkedAsSpam';
    readonly at: Date;
    /** `all` or `list` for unsubscribes; null for spam complaints. */
    readonly scope: string | null;
  }[];
  readonly bounces: readonly { readonly at: Date; readonly bounceType: string | null }[];
  readonly missedCalls: readonly {
    readonly at: Date;
    readonly direction: string | null;
    readonly reason: string | null;
  }[];
  /** Tickets whose latest event before the evaluation is an opening (no resolution since). */
  readonly openTickets: readonly { readonly ticketId: string; readonly openedAt: Date }[];
  /** Outcomes of tickets, meetings, store visits and dispositions of answered calls. */
  readonly outcomes: readonly {
    readonly at: Date;
    readonly type: string;
    readonly outcome: string;
  }[];
  /** Visits (sessions) in the latest window and the window of the same length before it. */
  readonly visits: { readonly recent: number; readonly previous: number } | null;
  /** Purchase days (UTC) from the orders read model, for the model's frequency and recency. */
  readonly purchases: {
    readonly firstDay: number;
    readonly lastDay: number;
    readonly distinctDays: number;
  } | null;
}

/** The latest fitted BG/NBD model, as stored with its fit. */
export interface ChurnModel {
  readonly fitId: string;
  readonly modelVersion: string;
  /** The fit's calibration end (YYYY-MM-DD): its scores are as of that day. */
  readonly calibrationEnd: string;
  readonly timeUnitDays: number;
  readonly parameters: BgNbdParameters;
}

export const DAY_MS = 86_400_000;

/** The UTC day number of an instant. */
export const utcDay = (at: Date): number => Math.floor(at.getTime() / DAY_MS);
