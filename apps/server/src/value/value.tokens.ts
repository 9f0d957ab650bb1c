/** The validated customer-value configuration (ValueConfig). */
export const VALUE_CONFIG = Symbol('VALUE_CONFIG');
