import { CustomerValueError } from './errors';

export interface Transaction {
  readonly customerId: string;
  readonly at: Date;
  /** Amount of this transaction in the configured currency. */
  readonly amount: number;
}

export interface SummaryOptions {
  /** Last day of the calibration period; that whole (UTC) day is included. Also the as-of date. */
  readonly calibrationEnd: Date;
  /** Length of the model time unit in days: 7 for weeks. */
  readonly timeUnitDays: number;
}

/** What the models need per customer, in model time units. */
export interface CustomerSummary {
  readonly customerId: string;
  /** Repeat purchase days: distinct purchase days in calibration minus 1. */
  readonly x: number;
  /** Recency: last purchase day − first purchase day. */
  readonly tx: number;
  /** Age: calibration end day − first purchase day. */
  readonly T: number;
  /** Mean over repeat purchase days of that day's summed amount (first day excluded); 0 when x = 0. */
  readonly zbar: number;
}

const DAY_MS = 86_400_000;

function utcDay(at: Date): number {
  return Math.floor(at.getTime() / DAY_MS);
}

interface Accumulator {
  firstDay: number;
  /** Summed amount per purchase day. */
  days: Map<number, number>;
}

/**
 * Builds the frequency/recency/monetary summary the CDNOW papers use: days are UTC calendar days,
 * several purchases on one day are one transaction, time is days / timeUnitDays. Transactions
 * after the calibration end day are ignored (they belong to the holdout); customers whose first
 * purchase is after it are not in the result. The result is sorted by customer id.
 * Throws CustomerValueError ('invalid-transaction' / 'invalid-options') on malformed input.
 */
export function summarizeTransactions(
  transactions: readonly Transaction[],
  options: SummaryOptions,
): CustomerSummary[] {
  const { calibrationEnd, timeUnitDays } = options;
  if (!(Number.isFinite(timeUnitDays) && timeUnitDays > 0)) {
    throw new CustomerValueError(
      'invalid-options',
      `timeUnitDays must be > 0, got ${timeUnitDays}`,
    );
  }
  if (Number.isNaN(calibrationEnd.getTime())) {
    throw new CustomerValueError('invalid-options', 'calibrationEnd is not a valid date');
  }
  const endDay = utcDay(calibrationEnd);
  const byCustomer = new Map<string, Accumulator>();
  for (let i = 0; i < transactions.length; i++) {
    const t = transactions[i]!;
    const time = t.at.getTime();
    if (Number.isNaN(time))
      throw new CustomerValueError('invalid-transaction', `transaction #${i} has an invalid date`);
    if (!Number.isFinite(t.amount)) {
      throw new CustomerValueError(
        'invalid-transaction',
        `transaction #${i} has a non-finite amount`,
      );
    }
    const day = Math.floor(time / DAY_MS);
    if (day > endDay) continue;
    let acc = byCustomer.get(t.customerId);
    if (acc === undefined) {
      acc = { firstDay: day, days: new Map() };
      byCustomer.set(t.customerId, acc);
    }
    if (day < acc.firstDay) acc.firstDay = day;
    acc.days.set(day, (acc.days.get(day) ?? 0) + t.amount);
  }

  const ids = [...byCustomer.keys()].sort();
  return ids.map((customerId) => {
    const { firstDay, days } = byCustomer.get(customerId)!;
    let lastDay = firstDay;
    let repeatSpend = 0;
    for (const [day, amount] of days) {
      if (day > lastDay) lastDay = day;
      if (day !== firstDay) repeatSpend += amount;
    }
    const x = days.size - 1;
    return {
      customerId,
      x,
      tx: (lastDay - firstDay) / timeUnitDays,
      T: (endDay - firstDay) / timeUnitDays,
      zbar: x > 0 ? repeatSpend / x : 0,
    };
  });
}
