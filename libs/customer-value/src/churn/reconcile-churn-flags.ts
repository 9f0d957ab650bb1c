import type { ChurnReasonCode } from './churn-config';
import type { ChurnDetail, ChurnReason, CustomerChurnEvaluation } from './evaluate-churn';

/** One reason of a current flag: what it said last, and since when it has held without a break. */
export interface HeldChurnReason {
  readonly since: string;
  readonly message: string;
  readonly details: { readonly [key: string]: ChurnDetail };
}

/** A customer's current flag, as stored (read_models.churn_flags). */
export interface CurrentChurnFlag {
  readonly customerId: string;
  readonly reasons: Readonly<Partial<Record<ChurnReasonCode, HeldChurnReason>>>;
  /** Since when the customer has been flagged for any reason without a break. */
  readonly since: string;
}

export type ClearedBecause =
  /** The rule ran and its condition no longer holds. */
  | 'condition-cleared'
  /** The rule did not run: disabled by the configuration, or (the model rule) no fitted model. */
  | 'rule-not-evaluated'
  /** The customer id no longer exists (merged into another customer, or erased). */
  | 'customer-gone';

export interface ClearedChurnReason extends HeldChurnReason {
  readonly code: ChurnReasonCode;
  readonly because: ClearedBecause;
}

export interface NextChurnFlag {
  readonly customerId: string;
  readonly reasonCodes: readonly ChurnReasonCode[];
  readonly reasons: Readonly<Partial<Record<ChurnReasonCode, HeldChurnReason>>>;
  readonly since: string;
  readonly risk: number;
}

/** What one evaluation changes for one customer. */
export interface ChurnFlagChange {
  readonly customerId: string;
  /** Reasons that hold now and did not before: a ChurnFlagRaised row. */
  readonly raised: readonly ChurnReason[];
  /** Reasons that held before and do not now: a ChurnFlagCleared row. */
  readonly cleared: readonly ClearedChurnReason[];
  /** The flag to keep, or null: not flagged (any stored flag is removed). */
  readonly next: NextChurnFlag | null;
}

/**
 * Compares an evaluation with the current flag. Only a change of the set of reasons is an event;
 * figures that move while a reason holds (days without contact growing) update the current flag
 * and raise nothing. So evaluating again as of the same time, on the same data, changes nothing.
 * `evaluation` null: the customer no longer exists, and every reason is cleared.
 */
export function reconcileChurnFlag(
  customerId: string,
  current: CurrentChurnFlag | null,
  evaluation: CustomerChurnEvaluation | null,
  asOf: Date,
): ChurnFlagChange {
  const asOfText = asOf.toISOString();
  const held = current?.reasons ?? {};
  const now = evaluation?.reasons ?? [];
  const nowCodes = new Set(now.map((reason) => reason.code));
  const evaluated = new Set(evaluation?.evaluated ?? []);

  const raised = now.filter((reason) => held[reason.code] === undefined);
  const cleared: ClearedChurnReason[] = [];
  for (const [code, reason] of Object.entries(held) as [ChurnReasonCode, HeldChurnReason][]) {
    if (nowCodes.has(code)) continue;
    cleared.push({
      code,
      ...reason,
      because:
        evaluation === null
          ? 'customer-gone'
          : evaluated.has(code)
            ? 'condition-cleared'
            : 'rule-not-evaluated',
    });
  }

  if (evaluation === null || now.length === 0) return { customerId, raised, cleared, next: null };
  const reasons: Partial<Record<ChurnReasonCode, HeldChurnReason>> = {};
  for (const reason of now) {
    reasons[reason.code] = {
      since: held[reason.code]?.since ?? asOfText,
      message: reason.message,
      details: reason.details,
    };
  }
  return {
    customerId,
    raised,
    cleared,
    next: {
      customerId,
      reasonCodes: now.map((reason) => reason.code),
      reasons,
      // Flagged without a break: the flag keeps its start while any reason holds.
      since: current !== null && Object.keys(held).length > 0 ? current.since : asOfText,
      risk: evaluation.risk,
    },
  };
}
