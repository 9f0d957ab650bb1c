import { EventStoreError, EventStoreUnavailableError } from '@touchline/event-store';
import { isConnectionError } from '@touchline/platform';

const sqlState = (error: unknown): unknown =>
  typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;

export const isUniqueViolation = (error: unknown): boolean => sqlState(error) === '23505';

/** Conflicts with a concurrent transaction that a fresh attempt resolves. */
export const isRetryableConflict = (error: unknown): boolean =>
  ['23505', '40P01', '40001'].includes(String(sqlState(error)));

/** Typed errors pass through; an unreachable database becomes EventStoreUnavailableError. */
export function toEventStoreError(error: unknown): unknown {
  if (error instanceof EventStoreError) return error;
  if (isConnectionError(error)) {
    const reason = error instanceof Error ? error.message : String(error);
    return new EventStoreUnavailableError(`Event store database is unreachable: ${reason}`, {
      cause: error,
    });
  }
  return error;
}
