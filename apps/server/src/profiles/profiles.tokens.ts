/** The customer_profiles projection configured from the environment (identity rules, currency). */
export const CUSTOMER_PROFILE_PROJECTION = Symbol('CUSTOMER_PROFILE_PROJECTION');
