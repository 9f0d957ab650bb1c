/** Injection tokens for the shared runtime parts (interfaces have no runtime identity). */
export const RUNTIME = Symbol('RUNTIME');
export const DATABASE_POOL = Symbol('DATABASE_POOL');
export const EVENT_STORE = Symbol('EVENT_STORE');
export const TRANSPORT = Symbol('TRANSPORT');
export const PUBLISHER = Symbol('PUBLISHER');
export const CONFIG = Symbol('CONFIG');
