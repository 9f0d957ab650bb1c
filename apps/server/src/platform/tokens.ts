/** Injection token for the shared runtime (database, event store, transport, topics). */
export const RUNTIME = Symbol('RUNTIME');
