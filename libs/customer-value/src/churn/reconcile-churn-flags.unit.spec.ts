import {
  type ChurnReason,
  type CurrentChurnFlag,
  type CustomerChurnEvaluation,
  reconcileChurnFlag,
} from './index';

const march = new Date('2026-03-01T23:59:59.999Z');
const april = new Date('2026-04-01T23:59:59.999Z');

const overdue = (days: number): ChurnReason => ({
  code: 'overdue-contact',
  message: `no contact for ${days} days`,
  details: { daysSinceLastContact: days },
});
const unsubscribed: ChurnReason = {
  code: 'unsubscribed',
  message: 'unsubscribed (all) on 2026-02-10',
  details: { optOuts: 1 },
};

const evaluation = (
  reasons: ChurnReason[],
  evaluated: CustomerChurnEvaluation['evaluated'] = [
    'overdue-contact',
    'unsubscribed',
    'falling-visits',
  ],
): CustomerChurnEvaluation => ({
  customerId: 'c-1',
  reasons,
  evaluated,
  pAlive: null,
  risk: reasons.length === 0 ? 0 : 0.5,
});

/** What the store holds after a change: the next flag becomes the current one. */
const stored = (next: ReturnType<typeof reconcileChurnFlag>['next']): CurrentChurnFlag | null =>
  next === null ? null : { customerId: next.customerId, reasons: next.reasons, since: next.since };

describe('reconciling an evaluation with the current flag', () => {
  it('given no flag, when a reason holds, then it is raised and the flag starts at the as-of time', () => {
    const change = reconcileChurnFlag('c-1', null, evaluation([overdue(30)]), march);
    expect(change.raised.map((r) => r.code)).toEqual(['overdue-contact']);
    expect(change.cleared).toEqual([]);
    expect(change.next).toMatchObject({
      reasonCodes: ['overdue-contact'],
      since: march.toISOString(),
      reasons: {
        'overdue-contact': { since: march.toISOString(), details: { daysSinceLastContact: 30 } },
      },
    });
  });

  it('given a flag, when the same reason holds with new figures, then nothing is raised and the start is kept', () => {
    const first = reconcileChurnFlag('c-1', null, evaluation([overdue(30)]), march);
    const later = reconcileChurnFlag('c-1', stored(first.next), evaluation([overdue(61)]), april);
    expect(later.raised).toEqual([]);
    expect(later.cleared).toEqual([]);
    expect(later.next?.since).toBe(march.toISOString());
    expect(later.next?.reasons['overdue-contact']).toMatchObject({
      since: march.toISOString(),
      details: { daysSinceLastContact: 61 },
    });
  });

  it('given a flag, when the same evaluation runs again, then it changes nothing', () => {
    const first = reconcileChurnFlag('c-1', null, evaluation([overdue(30), unsubscribed]), march);
    const again = reconcileChurnFlag(
      'c-1',
      stored(first.next),
      evaluation([overdue(30), unsubscribed]),
      march,
    );
    expect(again.raised).toEqual([]);
    expect(again.cleared).toEqual([]);
    expect(again.next).toEqual(first.next);
  });

  it('given a flag, when its condition no longer holds, then it is cleared with what it said and the flag is gone', () => {
    const first = reconcileChurnFlag('c-1', null, evaluation([overdue(30)]), march);
    const cleared = reconcileChurnFlag('c-1', stored(first.next), evaluation([]), april);
    expect(cleared.next).toBeNull();
    expect(cleared.cleared).toEqual([
      {
        code: 'overdue-contact',
        since: march.toISOString(),
        message: 'no contact for 30 days',
        details: { daysSinceLastContact: 30 },
        because: 'condition-cleared',
      },
    ]);
  });

  it('given a model flag, when the model rule did not run, then it is cleared as not evaluated', () => {
    const current: CurrentChurnFlag = {
      customerId: 'c-1',
      since: march.toISOString(),
      reasons: {
        'model-p-alive-low': { since: march.toISOString(), message: 'P(alive) 0.1', details: {} },
      },
    };
    const change = reconcileChurnFlag('c-1', current, evaluation([unsubscribed]), april);
    expect(change.cleared).toMatchObject([
      { code: 'model-p-alive-low', because: 'rule-not-evaluated' },
    ]);
    expect(change.raised.map((r) => r.code)).toEqual(['unsubscribed']);
    // Flagged without a break, for another reason: the flag keeps its start.
    expect(change.next?.since).toBe(march.toISOString());
    expect(change.next?.reasons.unsubscribed?.since).toBe(april.toISOString());
  });

  it('given a flag, when the customer no longer exists, then every reason is cleared as customer-gone', () => {
    const first = reconcileChurnFlag('c-1', null, evaluation([overdue(30), unsubscribed]), march);
    const gone = reconcileChurnFlag('c-1', stored(first.next), null, april);
    expect(gone.next).toBeNull();
    expect(gone.cleared.map((r) => [r.code, r.because])).toEqual([
      ['overdue-contact', 'customer-gone'],
      ['unsubscribed', 'customer-gone'],
    ]);
  });
});
