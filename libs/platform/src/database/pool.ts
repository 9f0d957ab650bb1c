import { Pool, type PoolClient } from 'pg';

export interface CreatePoolOptions {
  /** Most connections the pool opens (default 10; keep at or below 16 for the embedded server). */
  readonly max?: number;
  /** Give up connecting after this long, so a database that is away fails fast (default 5 s). */
  readonly connectionTimeoutMillis?: number;
  /** Close connections idle for this long (default 30 s). */
  readonly idleTimeoutMillis?: number;
  /** Shown in pg_stat_activity; helps tell roles apart. */
  readonly applicationName?: string;
  /**
   * Errors of idle connections (the server restarted, the network dropped). The pool replaces
   * the connection on its own; without a listener, pg's 'error' event would crash the process.
   */
  readonly onIdleError?: (error: Error) => void;
}

/**
 * A pg Pool with timeouts that fail fast instead of hanging. No global statement_timeout:
 * migrations and rebuilds legitimately run long; callers set one per transaction when needed.
 */
export function createPool(url: string, options: CreatePoolOptions = {}): Pool {
  const pool = new Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    idleTimeoutMillis: options.idleTimeoutMillis ?? 30_000,
    keepAlive: true,
    ...(options.applicationName ? { application_name: options.applicationName } : {}),
  });
  const onIdleError = options.onIdleError ?? (() => undefined);
  pool.on('error', onIdleError);
  guardCheckedOutClients(pool, onIdleError);
  return pool;
}

/**
 * pg's pool listens for errors only on idle clients. A client that is checked out (inside a
 * transaction, or held for an advisory lock) and loses its connection emits 'error' with no
 * listener, which crashes the process. The query in flight still rejects, and the next one on
 * that client fails, so the caller sees the error; this listener only keeps the process alive.
 */
export function guardCheckedOutClients(
  pool: Pool,
  onError: (error: Error) => void = () => undefined,
): void {
  const guarded = new WeakSet<object>();
  const guard = (client: PoolClient): void => {
    if (guarded.has(client)) return;
    guarded.add(client);
    client.on('error', onError);
  };
  // 'acquire' also covers clients that existed before this was called (e.g. TypeORM's first one).
  pool.on('connect', guard);
  pool.on('acquire', guard);
}
