import { probabilityAlive } from '../bg-nbd';
import { CHURN_REASON_CODES, type ChurnConfig, type ChurnReasonCode } from './churn-config';
import { type ChurnModel, type CustomerChurnFacts, DAY_MS, utcDay } from './churn-facts';

/** A JSON value: reasons are stored as jsonb and answered by the API as they are. */
export type ChurnDetail =
  | string
  | number
  | boolean
  | null
  | readonly ChurnDetail[]
  | { readonly [key: string]: ChurnDetail };

export interface ChurnReason {
  readonly code: ChurnReasonCode;
  /** One line for people: `no contact for 49 days; usually every 7 days (median of 16 gaps)`. */
  readonly message: string;
  /** The figures behind it and the settings they were compared with. */
  readonly details: { readonly [key: string]: ChurnDetail };
}

export interface CustomerChurnEvaluation {
  readonly customerId: string;
  /** In CHURN_REASON_CODES order; empty when the customer is not at risk. */
  readonly reasons: readonly ChurnReason[];
  /** The rules that ran: a current flag of any other code is cleared as "not evaluated". */
  readonly evaluated: readonly ChurnReasonCode[];
  /** P(alive) as of the evaluation under the model; null without a model or without purchases. */
  readonly pAlive: number | null;
  /** 1 − P(alive) × Π(1 − weight) over the rule reasons, in [0, 1], 6 decimals. */
  readonly risk: number;
}

export interface ChurnEvaluationContext {
  /** The instant the evaluation is as of: later events do not exist for it. */
  readonly asOf: Date;
  readonly config: ChurnConfig;
  /** The latest fitted model, or null when none is fitted (the model rule is then skipped). */
  readonly model: ChurnModel | null;
}

const iso = (at: Date) => at.toISOString();
const isoDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const round = (value: number, digits = 4) => Number(value.toFixed(digits));
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;

/** Events in (asOf − days, asOf]: the window ends with the evaluation and includes it. */
function within<T extends { readonly at: Date }>(
  rows: readonly T[],
  asOf: Date,
  days: number | null,
): T[] {
  const from = days === null ? Number.NEGATIVE_INFINITY : asOf.getTime() - days * DAY_MS;
  return rows.filter((row) => row.at.getTime() <= asOf.getTime() && row.at.getTime() > from);
}

const latestFirst = <T extends { readonly at: Date }>(rows: readonly T[]) =>
  [...rows].sort((a, b) => b.at.getTime() - a.at.getTime());

function modelReason(
  pAlive: number,
  summary: { x: number; tx: number; T: number },
  model: ChurnModel,
  config: ChurnConfig['model-p-alive-low'],
): ChurnReason | null {
  if (pAlive >= config.threshold) return null;
  return {
    code: 'model-p-alive-low',
    message: `P(alive) ${pAlive.toFixed(3)} < ${config.threshold} (${model.modelVersion}, fit ${model.fitId})`,
    details: {
      pAlive,
      threshold: config.threshold,
      fitId: model.fitId,
      modelVersion: model.modelVersion,
      calibrationEnd: model.calibrationEnd,
      timeUnitDays: model.timeUnitDays,
      x: summary.x,
      tx: round(summary.tx, 6),
      T: round(summary.T, 6),
    },
  };
}

function overdueContact(
  facts: CustomerChurnFacts,
  asOfDay: number,
  config: ChurnConfig['overdue-contact'],
): ChurnReason | null {
  const days = [...new Set(facts.contactDays)]
    .filter((day) => day <= asOfDay)
    .sort((a, b) => a - b)
    .slice(-config.historyContactDays);
  if (days.length < config.minContactDays) return null;
  const gaps = days.slice(1).map((day, i) => day - days[i]!);
  const usualGap = config.statistic === 'median' ? median(gaps) : mean(gaps);
  const lastDay = days[days.length - 1]!;
  const silence = asOfDay - lastDay;
  const thresholdDays = Math.max(config.multiplier * usualGap, config.minSilenceDays);
  if (silence < thresholdDays) return null;
  return {
    code: 'overdue-contact',
    message: `no contact for ${plural(silence, 'day')}; usually every ${round(usualGap, 1)} days (${config.statistic} of ${plural(gaps.length, 'gap')}), flagged from ${round(thresholdDays, 1)}`,
    details: {
      lastContactDay: isoDay(lastDay),
      daysSinceLastContact: silence,
      usualGapDays: round(usualGap),
      statistic: config.statistic,
      gaps: gaps.length,
      multiplier: config.multiplier,
      thresholdDays: round(thresholdDays),
    },
  };
}

function unsubscribed(
  facts: CustomerChurnFacts,
  asOf: Date,
  config: ChurnConfig['unsubscribed'],
): ChurnReason | null {
  const counted = latestFirst(
    within(facts.optOuts, asOf, config.withinDays).filter((event) =>
      event.type === 'EmailMarkedAsSpam'
        ? config.includeSpamComplaints
        : event.scope !== 'list' || config.includeListUnsubscribes,
    ),
  );
  const latest = counted[0];
  if (latest === undefined) return null;
  const what =
    latest.type === 'EmailMarkedAsSpam'
      ? 'marked an email as spam'
      : `unsubscribed${latest.scope === null ? '' : ` (${latest.scope})`}`;
  return {
    code: 'unsubscribed',
    message: `${what} on ${iso(latest.at).slice(0, 10)}${counted.length > 1 ? ` (${counted.length} opt-outs)` : ''}`,
    details: {
      optOuts: counted.length,
      unsubscribes: counted.filter((e) => e.type === 'EmailUnsubscribed').length,
      spamComplaints: counted.filter((e) => e.type === 'EmailMarkedAsSpam').length,
      latest: { type: latest.type, at: iso(latest.at), scope: latest.scope },
      withinDays: config.withinDays,
    },
  };
}

function hardBounces(
  facts: CustomerChurnFacts,
  asOf: Date,
  config: ChurnConfig['hard-bounces'],
): ChurnReason | null {
  const hard = latestFirst(
    within(facts.bounces, asOf, config.windowDays).filter((b) => b.bounceType === 'hard'),
  );
  if (hard.length < config.minCount) return null;
  return {
    code: 'hard-bounces',
    message: `${plural(hard.length, 'hard bounce')} in ${config.windowDays} days`,
    details: {
      count: hard.length,
      minCount: config.minCount,
      windowDays: config.windowDays,
      latestAt: iso(hard[0]!.at),
    },
  };
}

function missedCalls(
  facts: CustomerChurnFacts,
  asOf: Date,
  config: ChurnConfig['missed-calls'],
): ChurnReason | null {
  const directions: readonly string[] = config.directions;
  const missed = latestFirst(
    within(facts.missedCalls, asOf, config.windowDays).filter(
      (call) => call.direction === null || directions.includes(call.direction),
    ),
  );
  if (missed.length < config.minCount) return null;
  const inbound = missed.filter((call) => call.direction === 'inbound').length;
  return {
    code: 'missed-calls',
    message: `${plural(missed.length, 'missed call')} in ${config.windowDays} days (${inbound} inbound)`,
    details: {
      count: missed.length,
      inbound,
      outbound: missed.filter((call) => call.direction === 'outbound').length,
      minCount: config.minCount,
      windowDays: config.windowDays,
      latestAt: iso(missed[0]!.at),
    },
  };
}

function unresolvedTicket(
  facts: CustomerChurnFacts,
  asOf: Date,
  config: ChurnConfig['unresolved-ticket'],
): ChurnReason | null {
  const limit = asOf.getTime() - config.olderThanDays * DAY_MS;
  const old = facts.openTickets
    .filter((ticket) => ticket.openedAt.getTime() <= limit)
    .sort(
      (a, b) => a.openedAt.getTime() - b.openedAt.getTime() || a.ticketId.localeCompare(b.ticketId),
    );
  const oldest = old[0];
  if (oldest === undefined) return null;
  const daysOpen = (openedAt: Date) => Math.floor((asOf.getTime() - openedAt.getTime()) / DAY_MS);
  return {
    code: 'unresolved-ticket',
    message:
      old.length === 1
        ? `ticket ${oldest.ticketId} open for ${daysOpen(oldest.openedAt)} days`
        : `${old.length} tickets open for ${config.olderThanDays}+ days (oldest ${oldest.ticketId}, ${daysOpen(oldest.openedAt)} days)`,
    details: {
      count: old.length,
      olderThanDays: config.olderThanDays,
      tickets: old.slice(0, 10).map((ticket) => ({
        ticketId: ticket.ticketId,
        openedAt: iso(ticket.openedAt),
        daysOpen: daysOpen(ticket.openedAt),
      })),
    },
  };
}

function complaint(
  facts: CustomerChurnFacts,
  asOf: Date,
  config: ChurnConfig['complaint'],
): ChurnReason | null {
  const patterns = config.outcomePatterns.map((p) => p.toLowerCase());
  const matches = latestFirst(within(facts.outcomes, asOf, config.windowDays))
    .map((row) => ({
      row,
      pattern: patterns.find((p) => row.outcome.toLowerCase().includes(p)),
    }))
    .filter((m): m is { row: (typeof m)['row']; pattern: string } => m.pattern !== undefined);
  const latest = matches[0];
  if (latest === undefined || matches.length < config.minCount) return null;
  const outcome = latest.row.outcome.slice(0, 100);
  return {
    code: 'complaint',
    message: `${plural(matches.length, 'negative outcome')} in ${config.windowDays} days, latest ${latest.row.type} "${outcome}"`,
    details: {
      count: matches.length,
      minCount: config.minCount,
      windowDays: config.windowDays,
      latest: {
        type: latest.row.type,
        at: iso(latest.row.at),
        outcome,
        matched: latest.pattern,
      },
    },
  };
}

function fallingVisits(
  facts: CustomerChurnFacts,
  config: ChurnConfig['falling-visits'],
): ChurnReason | null {
  const visits = facts.visits;
  if (visits === null || visits.previous < config.minPreviousVisits) return null;
  const ratio = visits.recent / visits.previous;
  if (ratio >= config.maxRatio) return null;
  return {
    code: 'falling-visits',
    message: `${plural(visits.recent, 'visit')} in the last ${config.windowDays} days against ${visits.previous} in the ${config.windowDays} days before (${Math.round(ratio * 100)} %)`,
    details: {
      recentVisits: visits.recent,
      previousVisits: visits.previous,
      windowDays: config.windowDays,
      ratio: round(ratio),
      maxRatio: config.maxRatio,
    },
  };
}

/**
 * The churn flags of one customer as of `asOf`: every enabled rule over the facts, plus the
 * model's P(alive) recomputed as of `asOf` with the latest fit's parameters (frequency and
 * recency from the purchase days up to the as-of day, T up to it, in the fit's time unit), so the
 * model flag follows the passing of time as the rules do. Pure: same facts, config, model and
 * as-of time give the same answer.
 */
export function evaluateCustomerChurn(
  facts: CustomerChurnFacts,
  context: ChurnEvaluationContext,
): CustomerChurnEvaluation {
  const { asOf, config, model } = context;
  const asOfDay = utcDay(asOf);
  const found = new Map<ChurnReasonCode, ChurnReason | null>();
  let pAlive: number | null = null;

  if (config['model-p-alive-low'].enabled && model !== null) {
    const purchases = facts.purchases;
    let reason: ChurnReason | null = null;
    if (purchases !== null && purchases.firstDay <= asOfDay) {
      const lastDay = Math.min(purchases.lastDay, asOfDay);
      const summary = {
        x: Math.max(0, purchases.distinctDays - 1),
        tx: purchases.distinctDays > 1 ? (lastDay - purchases.firstDay) / model.timeUnitDays : 0,
        T: (asOfDay - purchases.firstDay) / model.timeUnitDays,
      };
      pAlive = probabilityAlive(model.parameters, summary);
      reason = modelReason(pAlive, summary, model, config['model-p-alive-low']);
    }
    found.set('model-p-alive-low', reason);
  }
  if (config['overdue-contact'].enabled)
    found.set('overdue-contact', overdueContact(facts, asOfDay, config['overdue-contact']));
  if (config.unsubscribed.enabled)
    found.set('unsubscribed', unsubscribed(facts, asOf, config.unsubscribed));
  if (config['hard-bounces'].enabled)
    found.set('hard-bounces', hardBounces(facts, asOf, config['hard-bounces']));
  if (config['missed-calls'].enabled)
    found.set('missed-calls', missedCalls(facts, asOf, config['missed-calls']));
  if (config['unresolved-ticket'].enabled)
    found.set('unresolved-ticket', unresolvedTicket(facts, asOf, config['unresolved-ticket']));
  if (config.complaint.enabled) found.set('complaint', complaint(facts, asOf, config.complaint));
  if (config['falling-visits'].enabled)
    found.set('falling-visits', fallingVisits(facts, config['falling-visits']));

  const reasons = CHURN_REASON_CODES.map((code) => found.get(code)).filter(
    (reason): reason is ChurnReason => reason !== undefined && reason !== null,
  );
  let stays = pAlive ?? 1;
  for (const reason of reasons) {
    if (reason.code !== 'model-p-alive-low') stays *= 1 - config[reason.code].weight;
  }
  return {
    customerId: facts.customerId,
    reasons,
    evaluated: CHURN_REASON_CODES.filter((code) => found.has(code)),
    pAlive,
    risk: round(Math.min(1, Math.max(0, 1 - stays)), 6),
  };
}
