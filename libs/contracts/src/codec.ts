import type { Resolver } from 'avsc';
import { ContractError } from './errors';
import type { AnyEventData, EnvelopeV1, EventType } from './generated/types';
import { SCHEMA_REGISTRY, type RegisteredSchema } from './registry';
import {
  type EventDataOf,
  type EventVersion,
  validateAgainst,
  validateForWriting,
  withDefaults,
} from './validation';

// Avro single-object encoding: 0xC3 0x01, the 8-byte little-endian CRC-64-AVRO fingerprint of
// the writer schema's canonical form, then the binary body. The reader learns the exact writer
// schema from the message itself, without a registry service.
const MARKER = Buffer.from([0xc3, 0x01]);
const HEADER_LENGTH = MARKER.length + 8;

/** The envelope version this build writes. */
const CURRENT_ENVELOPE_VERSION = 1;

/** Encodes an envelope (single-object encoding). Throws ContractError INVALID_VALUE when it breaks the schema. */
export function encodeEnvelope(envelope: EnvelopeV1): Buffer {
  return encodeWith(currentEnvelope(), envelope, 'envelope');
}

/**
 * Decodes an envelope written with any known envelope version, as the current version.
 * Anything else (unknown fingerprint, event data, truncated bytes, garbage) throws ContractError.
 */
export function decodeEnvelopeOrThrow(buf: Uint8Array): EnvelopeV1 {
  const { writer, body } = readHeaderOrThrow(buf);
  if (writer.source.kind !== 'envelope') {
    throw new ContractError(
      'UNEXPECTED_SCHEMA',
      `expected an envelope, got ${writer.source.type} v${writer.source.version} (${writer.source.file})`,
    );
  }
  const reader = currentEnvelope();
  const value = decodeBody(
    reader,
    body,
    writer === reader ? undefined : envelopeResolver(writer),
  ) as EnvelopeV1;
  // The body is a view into the message; a copy outlives any reuse of the consumer's buffer.
  return { ...value, data: Buffer.from(value.data) };
}

/** Encodes event data with the schema of its type and version (single-object encoding). */
export function encodeEventData<T extends EventType, V extends EventVersion<T>>(
  type: T,
  version: V,
  value: EventDataOf<T, V>,
): Buffer;
export function encodeEventData(type: string, version: number, value: unknown): Buffer;
export function encodeEventData(type: string, version: number, value: unknown): Buffer {
  return encodeWith(eventSchemaOrThrow(type, version), value, `${type} v${version}`);
}

/**
 * Encodes a value that validateEventData has just returned as valid, without validating it a
 * second time (the collector's hot path). Anything else must go through encodeEventData.
 */
export function encodeValidatedEventData(type: string, version: number, value: unknown): Buffer {
  const entry = eventSchemaOrThrow(type, version);
  return Buffer.concat([
    MARKER,
    entry.fingerprint,
    entry.avroType.toBuffer(withDefaults(entry.avroType, value)),
  ]);
}

/** Decodes event data with the schema its fingerprint names; the result says which type and version. */
export function decodeEventDataOrThrow(buf: Uint8Array): AnyEventData {
  const { writer, body } = readHeaderOrThrow(buf);
  if (writer.source.kind !== 'event') {
    throw new ContractError(
      'UNEXPECTED_SCHEMA',
      `expected event data, got the ${writer.source.type} schema`,
    );
  }
  const value = decodeBody(writer, body, undefined);
  return { type: writer.source.type, version: writer.source.version, value } as AnyEventData;
}

/** The schema of an event type and version, or ContractError UNKNOWN_EVENT_TYPE. */
export function eventSchemaOrThrow(type: string, version: number): RegisteredSchema {
  const entry = SCHEMA_REGISTRY.event(type, version);
  if (!entry) {
    throw new ContractError(
      'UNKNOWN_EVENT_TYPE',
      `no schema for event type ${JSON.stringify(type)} version ${version}`,
    );
  }
  return entry;
}

function encodeWith(entry: RegisteredSchema, value: unknown, what: string): Buffer {
  const errors = validateForWriting(entry, value);
  if (errors.length > 0) {
    throw new ContractError(
      'INVALID_VALUE',
      `${what}: ${errors.map((e) => e.message).join('; ')}`,
      errors,
    );
  }
  const body = entry.avroType.toBuffer(withDefaults(entry.avroType, value));
  return Buffer.concat([MARKER, entry.fingerprint, body]);
}

function readHeaderOrThrow(buf: Uint8Array): { writer: RegisteredSchema; body: Buffer } {
  if (!(buf instanceof Uint8Array)) {
    throw new ContractError('NOT_SINGLE_OBJECT_ENCODED', 'expected the bytes of a message');
  }
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const markerSeen = bytes.subarray(0, MARKER.length);
  if (!markerSeen.equals(MARKER.subarray(0, markerSeen.length)) || bytes.length === 0) {
    const what =
      bytes.length === 0 ? 'empty message' : `starts with 0x${markerSeen.toString('hex')}`;
    throw new ContractError(
      bytes.length === 0 ? 'TRUNCATED_MESSAGE' : 'NOT_SINGLE_OBJECT_ENCODED',
      `not Avro single-object encoding (marker 0xc301 expected): ${what}`,
    );
  }
  if (bytes.length < HEADER_LENGTH) {
    throw new ContractError(
      'TRUNCATED_MESSAGE',
      `message of ${bytes.length} bytes ends inside its ${HEADER_LENGTH}-byte header`,
    );
  }
  const fingerprint = bytes.subarray(MARKER.length, HEADER_LENGTH).toString('hex');
  const writer = SCHEMA_REGISTRY.byFingerprintHex(fingerprint);
  if (!writer) {
    throw new ContractError(
      'UNKNOWN_SCHEMA_FINGERPRINT',
      `unknown schema fingerprint ${fingerprint}: written with a schema this build does not have`,
    );
  }
  return { writer, body: bytes.subarray(HEADER_LENGTH) };
}

function decodeBody(
  reader: RegisteredSchema,
  body: Buffer,
  resolver: Resolver | undefined,
): unknown {
  const what = `${reader.source.type} v${reader.source.version}`;
  let value: unknown;
  try {
    value = reader.avroType.fromBuffer(body, resolver);
  } catch (error) {
    const truncated = error instanceof Error && error.message === 'truncated buffer';
    throw new ContractError(
      truncated ? 'TRUNCATED_MESSAGE' : 'MALFORMED_MESSAGE',
      `${what} body ${truncated ? 'is truncated' : `does not decode: ${error instanceof Error ? error.message : String(error)}`}`,
      [],
      { cause: error },
    );
  }
  // Garbage can decode into impossible values (an enum index out of range reads as undefined).
  const errors = validateAgainst(reader.avroType, value);
  if (errors.length > 0) {
    throw new ContractError(
      'MALFORMED_MESSAGE',
      `${what} body decodes to an invalid value: ${errors[0]!.message}`,
      errors,
    );
  }
  return { ...(value as Record<string, unknown>) };
}

function currentEnvelope(): RegisteredSchema {
  const entry = SCHEMA_REGISTRY.envelope(CURRENT_ENVELOPE_VERSION);
  if (!entry)
    throw new ContractError(
      'UNKNOWN_EVENT_TYPE',
      `no envelope schema v${CURRENT_ENVELOPE_VERSION}`,
    );
  return entry;
}

const resolvers = new Map<string, Resolver>();

/** Reads an older envelope version as the current one (Avro schema resolution). */
function envelopeResolver(writer: RegisteredSchema): Resolver {
  let resolver = resolvers.get(writer.fingerprintHex);
  if (!resolver) {
    resolver = currentEnvelope().avroType.createResolver(writer.avroType);
    resolvers.set(writer.fingerprintHex, resolver);
  }
  return resolver;
}
