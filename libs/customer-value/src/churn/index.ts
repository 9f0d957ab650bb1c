export {
  CHURN_MAX_LISTED,
  CHURN_REASON_CODES,
  DEFAULT_CHURN_CONFIG,
  isChurnReasonCode,
  resolveChurnConfig,
  type ChurnConfig,
  type ChurnConfigIssue,
  type ChurnConfigResult,
  type ChurnReasonCode,
} from './churn-config';
export type { ChurnModel, CustomerChurnFacts } from './churn-facts';
export {
  evaluateCustomerChurn,
  type ChurnDetail,
  type ChurnEvaluationContext,
  type ChurnReason,
  type CustomerChurnEvaluation,
} from './evaluate-churn';
export {
  reconcileChurnFlag,
  type ChurnFlagChange,
  type ClearedBecause,
  type ClearedChurnReason,
  type CurrentChurnFlag,
  type HeldChurnReason,
  type NextChurnFlag,
} from './reconcile-churn-flags';
