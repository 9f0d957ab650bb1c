/** Node socket error codes that mean the server cannot be reached right now. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** SQLSTATEs outside class 08 that still mean "the server is not serving us". */
const unavailableSqlStates = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '53300', // too_many_connections
]);

/** Messages pg raises without a code when the socket goes away or the pool cannot connect. */
const pgClientMessages = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /client has encountered a connection error/i,
  /connection is not queryable/i,
  /server closed the connection unexpectedly/i,
];

/**
 * True when an error from pg (or the network below it) means the database is unreachable or
 * refusing connections, so callers answer 503 and retry later instead of failing the request.
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string') {
    if (networkCodes.has(code) || unavailableSqlStates.has(code) || code.startsWith('08')) {
      return true;
    }
  }
  if (typeof message === 'string' && pgClientMessages.some((pattern) => pattern.test(message))) {
    return true;
  }
  // Node wraps the attempts of a multi-address connect in an AggregateError.
  if (Array.isArray(errors) && errors.some((inner) => isConnectionError(inner, depth + 1))) {
    return true;
  }
  return cause !== undefined && isConnectionError(cause, depth + 1);
}
