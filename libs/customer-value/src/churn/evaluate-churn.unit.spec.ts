import { probabilityAlive } from '../bg-nbd';
import {
  type ChurnConfig,
  type ChurnModel,
  type CustomerChurnFacts,
  type CustomerChurnEvaluation,
  DEFAULT_CHURN_CONFIG,
  evaluateCustomerChurn,
  resolveChurnConfig,
} from './index';

const DAY = 86_400_000;
const day = (text: string) => Math.floor(Date.parse(`${text}T00:00:00Z`) / DAY);
const at = (text: string) => new Date(text.length === 10 ? `${text}T12:00:00Z` : text);
/** The end of a UTC day, as a date-only as-of is read. */
const endOf = (text: string) => new Date(Date.parse(`${text}T00:00:00Z`) + DAY - 1);

/** A customer nothing is known about; each test adds the facts it is about. */
const given = (facts: Partial<CustomerChurnFacts> = {}): CustomerChurnFacts => ({
  customerId: 'c-1',
  contactDays: [],
  optOuts: [],
  bounces: [],
  missedCalls: [],
  openTickets: [],
  outcomes: [],
  visits: null,
  purchases: null,
  ...facts,
});

function config(overrides: unknown = {}): ChurnConfig {
  const resolved = resolveChurnConfig(overrides);
  if (!resolved.ok) throw new Error(JSON.stringify(resolved.issues));
  return resolved.config;
}

const whenEvaluated = (
  facts: CustomerChurnFacts,
  asOf: Date,
  options: { config?: ChurnConfig; model?: ChurnModel | null } = {},
): CustomerChurnEvaluation =>
  evaluateCustomerChurn(facts, {
    asOf,
    config: options.config ?? DEFAULT_CHURN_CONFIG,
    model: options.model ?? null,
  });

const codes = (evaluation: CustomerChurnEvaluation) => evaluation.reasons.map((r) => r.code);
const reason = (evaluation: CustomerChurnEvaluation, code: string) =>
  evaluation.reasons.find((r) => r.code === code);

/** Every 7 days from 2026-01-05 to 2026-04-27: 17 contact days, 16 gaps of 7. */
const weekly = Array.from({ length: 17 }, (_, i) => day('2026-01-05') + 7 * i);

/** BG/NBD fitted on the CDNOW sample (FHL 2005), weeks. */
const cdnowModel: ChurnModel = {
  fitId: '6f1c2b1e-0000-4000-8000-000000000001',
  modelVersion: 'bg-nbd/1.0.0',
  calibrationEnd: '1997-09-30',
  timeUnitDays: 7,
  parameters: { r: 0.2426, alpha: 4.4136, a: 0.7929, b: 2.4259 },
};

describe('churn evaluation: overdue contact', () => {
  it('given a weekly visitor who stopped, when evaluated 13 days after the last visit, then no flag; 21 days after, then overdue-contact', () => {
    const visitor = given({ contactDays: weekly });
    expect(codes(whenEvaluated(visitor, endOf('2026-05-10')))).toEqual([]);
    expect(codes(whenEvaluated(visitor, endOf('2026-05-17')))).toEqual([]);

    const flagged = whenEvaluated(visitor, endOf('2026-05-18'));
    expect(codes(flagged)).toEqual(['overdue-contact']);
    expect(reason(flagged, 'overdue-contact')?.details).toEqual({
      lastContactDay: '2026-04-27',
      daysSinceLastContact: 21,
      usualGapDays: 7,
      statistic: 'median',
      gaps: 16,
      multiplier: 3,
      thresholdDays: 21,
    });
    expect(reason(flagged, 'overdue-contact')?.message).toContain('no contact for 21 days');
  });

  it('given contact days after the as-of date, when evaluated, then they do not exist for it', () => {
    const visitor = given({ contactDays: [...weekly, day('2026-06-01')] });
    expect(codes(whenEvaluated(visitor, endOf('2026-05-20')))).toEqual(['overdue-contact']);
    expect(codes(whenEvaluated(visitor, endOf('2026-06-02')))).toEqual([]);
  });

  it('given too few contact days, when evaluated long after, then there is no usual gap and no flag', () => {
    const rare = given({ contactDays: [day('2026-01-01'), day('2026-01-08'), day('2026-01-15')] });
    expect(codes(whenEvaluated(rare, endOf('2026-12-01')))).toEqual([]);
    expect(
      codes(
        whenEvaluated(rare, endOf('2026-12-01'), {
          config: config({ 'overdue-contact': { minContactDays: 3 } }),
        }),
      ),
    ).toEqual(['overdue-contact']);
  });

  it('given a daily visitor, when silent for 4 days, then the minimum silence keeps them unflagged', () => {
    const daily = given({
      contactDays: Array.from({ length: 30 }, (_, i) => day('2026-03-01') + i),
    });
    const last = '2026-03-30';
    expect(codes(whenEvaluated(daily, endOf('2026-04-03')))).toEqual([]);
    const flagged = whenEvaluated(daily, new Date(Date.parse(`${last}T00:00:00Z`) + 14 * DAY));
    expect(reason(flagged, 'overdue-contact')?.details).toMatchObject({
      usualGapDays: 1,
      thresholdDays: 14,
      daysSinceLastContact: 14,
    });
  });

  it('given irregular gaps, when the statistic is mean instead of median, then the usual gap changes', () => {
    // Gaps 1, 1, 1, 29: median 1, mean 8.
    const bursty = given({
      contactDays: [
        day('2026-01-01'),
        day('2026-01-02'),
        day('2026-01-03'),
        day('2026-01-04'),
        day('2026-02-02'),
      ],
    });
    const asOf = endOf('2026-02-20'); // 18 days of silence
    expect(reason(whenEvaluated(bursty, asOf), 'overdue-contact')?.details).toMatchObject({
      usualGapDays: 1,
      thresholdDays: 14,
    });
    const mean = whenEvaluated(bursty, asOf, {
      config: config({ 'overdue-contact': { statistic: 'mean' } }),
    });
    expect(codes(mean)).toEqual([]);
  });
});

describe('churn evaluation: email opt-outs and bounces', () => {
  it('given an unsubscribe from everything, when evaluated after it, then unsubscribed; before it, then nothing', () => {
    const customer = given({
      optOuts: [{ type: 'EmailUnsubscribed', at: at('2026-02-10T08:00:00Z'), scope: 'all' }],
    });
    expect(codes(whenEvaluated(customer, endOf('2026-02-09')))).toEqual([]);
    const flagged = whenEvaluated(customer, endOf('2026-03-01'));
    expect(codes(flagged)).toEqual(['unsubscribed']);
    expect(reason(flagged, 'unsubscribed')?.message).toBe('unsubscribed (all) on 2026-02-10');
    expect(flagged.risk).toBe(0.6);
  });

  it('given a spam complaint, when spam complaints count, then unsubscribed; when they do not, then nothing', () => {
    const customer = given({
      optOuts: [{ type: 'EmailMarkedAsSpam', at: at('2026-02-10'), scope: null }],
    });
    const flagged = whenEvaluated(customer, endOf('2026-03-01'));
    expect(reason(flagged, 'unsubscribed')?.details).toMatchObject({
      spamComplaints: 1,
      unsubscribes: 0,
    });
    expect(
      codes(
        whenEvaluated(customer, endOf('2026-03-01'), {
          config: config({ unsubscribed: { includeSpamComplaints: false } }),
        }),
      ),
    ).toEqual([]);
  });

  it('given a list unsubscribe long ago, when limited to recent or to global opt-outs, then nothing', () => {
    const customer = given({
      optOuts: [{ type: 'EmailUnsubscribed', at: at('2025-01-10'), scope: 'list' }],
    });
    expect(codes(whenEvaluated(customer, endOf('2026-03-01')))).toEqual(['unsubscribed']);
    expect(
      codes(
        whenEvaluated(customer, endOf('2026-03-01'), {
          config: config({ unsubscribed: { withinDays: 365 } }),
        }),
      ),
    ).toEqual([]);
    expect(
      codes(
        whenEvaluated(customer, endOf('2026-03-01'), {
          config: config({ unsubscribed: { includeListUnsubscribes: false } }),
        }),
      ),
    ).toEqual([]);
  });

  it('given hard and soft bounces, when two hard ones fall in the window, then hard-bounces', () => {
    const customer = given({
      bounces: [
        { at: at('2026-01-01'), bounceType: 'hard' },
        { at: at('2026-03-01'), bounceType: 'soft' },
        { at: at('2026-03-05'), bounceType: 'soft' },
        { at: at('2026-03-10'), bounceType: 'hard' },
      ],
    });
    // 2026-01-01 is 100 days before 2026-04-11: outside the 90-day window.
    expect(codes(whenEvaluated(customer, endOf('2026-04-11')))).toEqual([]);
    const flagged = whenEvaluated(customer, endOf('2026-03-20'));
    expect(reason(flagged, 'hard-bounces')?.details).toEqual({
      count: 2,
      minCount: 2,
      windowDays: 90,
      latestAt: '2026-03-10T12:00:00.000Z',
    });
  });
});

describe('churn evaluation: support and calls', () => {
  const asOf = endOf('2026-06-30');

  it('given three missed calls in a month, when evaluated, then missed-calls; with inbound only counted, then not', () => {
    const customer = given({
      missedCalls: [
        { at: at('2026-06-10'), direction: 'inbound', reason: 'no-answer' },
        { at: at('2026-06-12'), direction: 'inbound', reason: 'busy' },
        { at: at('2026-06-20'), direction: 'outbound', reason: 'no-answer' },
      ],
    });
    expect(reason(whenEvaluated(customer, asOf), 'missed-calls')?.details).toMatchObject({
      count: 3,
      inbound: 2,
      outbound: 1,
    });
    expect(
      codes(
        whenEvaluated(customer, asOf, {
          config: config({ 'missed-calls': { directions: ['inbound'] } }),
        }),
      ),
    ).toEqual([]);
  });

  it('given a ticket open for 10 days and one for 3, when evaluated, then unresolved-ticket names the old one', () => {
    const customer = given({
      openTickets: [
        { ticketId: 'T-2', openedAt: at('2026-06-27T09:00:00Z') },
        { ticketId: 'T-1', openedAt: at('2026-06-20T09:00:00Z') },
      ],
    });
    const flagged = reason(whenEvaluated(customer, asOf), 'unresolved-ticket');
    expect(flagged?.message).toBe('ticket T-1 open for 10 days');
    expect(flagged?.details).toMatchObject({ count: 1, olderThanDays: 7 });
    expect(codes(whenEvaluated(customer, endOf('2026-06-26')))).toEqual([]);
  });

  it('given outcomes, when one reads like a complaint, then complaint with the outcome; neutral ones never', () => {
    const neutral = given({
      outcomes: [{ at: at('2026-06-01'), type: 'SupportTicketResolved', outcome: 'resolved' }],
    });
    expect(codes(whenEvaluated(neutral, asOf))).toEqual([]);
    const unhappy = given({
      outcomes: [
        { at: at('2026-06-01'), type: 'SupportTicketResolved', outcome: 'resolved' },
        { at: at('2026-06-15'), type: 'CallEnded', outcome: 'Customer ESCALATED to manager' },
      ],
    });
    expect(reason(whenEvaluated(unhappy, asOf), 'complaint')?.details).toMatchObject({
      count: 1,
      latest: { type: 'CallEnded', matched: 'escalat' },
    });
    expect(
      codes(whenEvaluated(unhappy, asOf, { config: config({ complaint: { minCount: 2 } }) })),
    ).toEqual([]);
  });
});

describe('churn evaluation: falling visits', () => {
  const asOf = endOf('2026-06-30');

  it('given 10 visits then 2, when evaluated, then falling-visits with the figures', () => {
    const flagged = whenEvaluated(given({ visits: { recent: 2, previous: 10 } }), asOf);
    expect(reason(flagged, 'falling-visits')?.details).toEqual({
      recentVisits: 2,
      previousVisits: 10,
      windowDays: 30,
      ratio: 0.2,
      maxRatio: 0.5,
    });
  });

  it('given half as many visits, or too few to fall from, when evaluated, then nothing', () => {
    expect(codes(whenEvaluated(given({ visits: { recent: 5, previous: 10 } }), asOf))).toEqual([]);
    expect(codes(whenEvaluated(given({ visits: { recent: 0, previous: 3 } }), asOf))).toEqual([]);
  });
});

describe('churn evaluation: the model', () => {
  it('given no fitted model, when evaluated, then the model rule does not run and the rules still do', () => {
    const customer = given({
      purchases: { firstDay: day('2026-01-01'), lastDay: day('2026-01-10'), distinctDays: 3 },
      optOuts: [{ type: 'EmailUnsubscribed', at: at('2026-02-10'), scope: 'all' }],
    });
    const evaluation = whenEvaluated(customer, endOf('2026-06-01'));
    expect(evaluation.evaluated).not.toContain('model-p-alive-low');
    expect(evaluation.pAlive).toBeNull();
    expect(codes(evaluation)).toEqual(['unsubscribed']);
  });

  it('given CDNOW customer 1 as of the calibration end, when evaluated, then P(alive) is the stored score, above the threshold', () => {
    const first = day('1997-01-01');
    const customer = given({
      purchases: { firstDay: first, lastDay: first + 213, distinctDays: 3 },
    });
    const evaluation = whenEvaluated(customer, new Date((first + 272) * DAY + DAY - 1), {
      model: cdnowModel,
    });
    expect(evaluation.pAlive).toBeCloseTo(
      probabilityAlive(cdnowModel.parameters, { x: 2, tx: 213 / 7, T: 272 / 7 }),
      12,
    );
    expect(evaluation.pAlive).toBeCloseTo(0.7266, 3);
    expect(evaluation.evaluated).toContain('model-p-alive-low');
    expect(codes(evaluation)).toEqual([]);
  });

  it('given a frequent buyer who stopped, when time passes, then P(alive) falls below the threshold and the reason names the fit', () => {
    const customer = given({
      purchases: { firstDay: day('1997-01-01'), lastDay: day('1997-02-15'), distinctDays: 8 },
    });
    const early = whenEvaluated(customer, endOf('1997-03-01'), { model: cdnowModel });
    expect(codes(early)).toEqual([]);
    const late = whenEvaluated(customer, endOf('1997-12-31'), { model: cdnowModel });
    expect(late.pAlive).toBeLessThan(early.pAlive!);
    expect(codes(late)).toEqual(['model-p-alive-low']);
    expect(reason(late, 'model-p-alive-low')?.details).toMatchObject({
      fitId: cdnowModel.fitId,
      modelVersion: 'bg-nbd/1.0.0',
      threshold: 0.3,
      x: 7,
      pAlive: late.pAlive,
    });
    expect(late.risk).toBeCloseTo(1 - late.pAlive!, 6);
  });

  it('given purchases after the as-of date, when evaluated before them, then the customer had not bought yet', () => {
    const customer = given({
      purchases: { firstDay: day('1997-05-01'), lastDay: day('1997-06-01'), distinctDays: 2 },
    });
    expect(whenEvaluated(customer, endOf('1997-04-01'), { model: cdnowModel }).pAlive).toBeNull();
  });
});

describe('churn evaluation: risk and configuration', () => {
  const asOf = endOf('2026-06-01');
  const unsubscribedAndSilent = given({
    contactDays: weekly,
    optOuts: [{ type: 'EmailUnsubscribed', at: at('2026-02-10'), scope: 'all' }],
  });

  it('given two reasons, when evaluated, then risk combines their weights as independent chances', () => {
    const evaluation = whenEvaluated(unsubscribedAndSilent, asOf);
    expect(codes(evaluation)).toEqual(['unsubscribed', 'overdue-contact']);
    expect(evaluation.risk).toBe(0.8); // 1 − (1 − 0.6)(1 − 0.5)
  });

  it('given a rule disabled, when evaluated, then it neither flags nor counts as evaluated', () => {
    const evaluation = whenEvaluated(unsubscribedAndSilent, asOf, {
      config: config({ unsubscribed: { enabled: false } }),
    });
    expect(codes(evaluation)).toEqual(['overdue-contact']);
    expect(evaluation.evaluated).not.toContain('unsubscribed');
  });

  it('given the same facts, when evaluated twice, then the answers are equal', () => {
    expect(whenEvaluated(unsubscribedAndSilent, asOf)).toEqual(
      whenEvaluated(unsubscribedAndSilent, asOf),
    );
  });
});
