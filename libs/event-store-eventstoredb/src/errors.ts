import {
  ErrorType,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  EventStoreError,
  EventStoreUnavailableError,
  WrongExpectedVersionError,
  type ExpectedVersion,
} from '@touchline/event-store';
import { toStreamVersion } from './expected-version';

/** The connection string cannot be parsed; nothing was connected. */
export class EventStoreDbConnectionStringError extends Error {
  readonly code = 'INVALID_EVENTSTORE_CONNECTION_STRING';
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`Invalid EventStoreDB connection string: ${reason}`, options);
  }
}

// gRPC status codes (@grpc/grpc-js `status`): some client calls (append) reject with the raw
// gRPC error instead of the client's typed one.
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

const unavailableTypes: ReadonlySet<unknown> = new Set([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.NOT_LEADER,
]);

const field = (error: unknown, name: string): unknown =>
  typeof error === 'object' && error !== null
    ? (error as Record<string, unknown>)[name]
    : undefined;

/** The server cannot be reached now (down, restarting, leader moved, deadline): retry later. */
export function isUnavailable(error: unknown): boolean {
  if (unavailableTypes.has(field(error, 'type'))) return true;
  const code = field(error, 'code');
  return code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED;
}

export function isWrongExpectedVersion(error: unknown): error is EsdbWrongExpectedVersionError {
  return field(error, 'type') === ErrorType.WRONG_EXPECTED_VERSION;
}

export function isStreamNotFound(error: unknown): boolean {
  return field(error, 'type') === ErrorType.STREAM_NOT_FOUND;
}

/** EventStoreDB's version conflict in our terms: the actual version, -1 for no stream. */
export function toWrongExpectedVersionError(
  error: EsdbWrongExpectedVersionError,
  streamId: string,
  expected: ExpectedVersion,
): WrongExpectedVersionError {
  return new WrongExpectedVersionError(streamId, expected, toStreamVersion(error.actualVersion));
}

/** Typed errors pass through; an unreachable server becomes EventStoreUnavailableError. */
export function toEventStoreError(error: unknown): unknown {
  if (error instanceof EventStoreError) return error;
  if (isUnavailable(error)) {
    const reason = error instanceof Error ? error.message : String(error);
    return new EventStoreUnavailableError(`EventStoreDB is unreachable: ${reason}`, {
      cause: error,
    });
  }
  return error;
}
