export type ContractErrorCode =
  /** No schema for this event type and version. */
  | 'UNKNOWN_EVENT_TYPE'
  /** The message names a schema (by fingerprint) that this build does not know. */
  | 'UNKNOWN_SCHEMA_FINGERPRINT'
  /** The message is a known schema, but not the one expected (e.g. event data where an envelope belongs). */
  | 'UNEXPECTED_SCHEMA'
  /** The bytes do not start with the Avro single-object marker. */
  | 'NOT_SINGLE_OBJECT_ENCODED'
  /** The message ends before its header or body does. */
  | 'TRUNCATED_MESSAGE'
  /** The body does not decode under its schema (garbage, trailing bytes, impossible values). */
  | 'MALFORMED_MESSAGE'
  /** A value to encode or convert does not match its schema; `errors` says where. */
  | 'INVALID_VALUE';

/** Where a value breaks its schema: `path` is the field (dotted), `rule` what it breaks. */
export interface ValidationError {
  readonly path: string;
  readonly rule: ValidationRule;
  readonly message: string;
}

export type ValidationRule =
  | 'required'
  | 'type'
  | 'enum'
  | 'json-object'
  | 'timestamp'
  | 'unknown-field'
  | 'unknown-event-type'
  /** A schema's own value rules (value-rules.ts): an exact decimal string, >= 0, an ISO 4217 code. */
  | 'decimal'
  | 'non-negative'
  | 'currency';

/** Every failure of the codec and of conversions: a string code, a message, never another kind of throw. */
export class ContractError extends Error {
  override readonly name = 'ContractError';

  constructor(
    readonly code: ContractErrorCode,
    message: string,
    readonly errors: readonly ValidationError[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
