import type { ExpectedVersion } from './event-store.port';

export type EventStoreErrorCode =
  | 'WRONG_EXPECTED_VERSION'
  | 'DUPLICATE_EVENT_CONFLICT'
  | 'INVALID_APPEND'
  | 'EVENT_STORE_UNAVAILABLE';

export abstract class EventStoreError extends Error {
  abstract readonly code: EventStoreErrorCode;
}

/** The stream was not at the expected version: reload and decide again. */
export class WrongExpectedVersionError extends EventStoreError {
  readonly code = 'WRONG_EXPECTED_VERSION';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    /** Version of the stream's last event; -1 when the stream does not exist. */
    readonly actual: number,
  ) {
    super(`Stream "${streamId}" is at version ${actual}, expected ${String(expected)}`);
  }
}

/**
 * Some, but not all, of the appended event ids are already stored, or a stored id belongs to
 * another stream: not a safe repeat of an earlier append.
 */
export class DuplicateEventConflictError extends EventStoreError {
  readonly code = 'DUPLICATE_EVENT_CONFLICT';
  constructor(
    readonly streamId: string,
    readonly eventIds: readonly string[],
  ) {
    super(`Append to "${streamId}" partly repeats stored events: ${eventIds.join(', ')}`);
  }
}

/** The append itself is malformed (empty stream id, duplicate ids inside one append, ...). */
export class InvalidAppendError extends EventStoreError {
  readonly code = 'INVALID_APPEND';
}

/** The backing database cannot be reached; retry later. */
export class EventStoreUnavailableError extends EventStoreError {
  readonly code = 'EVENT_STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
