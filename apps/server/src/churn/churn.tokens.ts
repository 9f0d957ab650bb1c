/** The validated churn settings (ChurnSettings). */
export const CHURN_SETTINGS = Symbol('CHURN_SETTINGS');
/** The clock evaluations read "now" from (asOf by default, schedule). */
export const CHURN_CLOCK = Symbol('CHURN_CLOCK');
