import { type Type, types } from 'avsc';
import { ContractError, type ValidationError } from './errors';
import type { AnyEventData, EventType } from './generated/types';
import { eventSchemaOrThrow } from './codec';
import {
  type EventDataOf,
  type EventVersion,
  validateAgainst,
  validateForWriting,
  withDefaults,
} from './validation';

// Event data as stored in the event store's JSONB column: the value's own shape, with Dates as
// ISO-8601 strings and bytes as base64. eventDataFromJson(eventDataToJson(x)) equals x.

/** Event data as a JSON object for storage. Throws ContractError INVALID_VALUE when it breaks its schema. */
export function eventDataToJson<T extends EventType, V extends EventVersion<T>>(
  type: T,
  version: V,
  value: EventDataOf<T, V>,
): Record<string, unknown>;
export function eventDataToJson(
  type: string,
  version: number,
  value: unknown,
): Record<string, unknown>;
export function eventDataToJson(
  type: string,
  version: number,
  value: unknown,
): Record<string, unknown> {
  const entry = eventSchemaOrThrow(type, version);
  throwIfInvalid(validateForWriting(entry, value), `${type} v${version}`);
  const schema = entry.avroType;
  return toJson(schema, withDefaults(schema, value)) as Record<string, unknown>;
}

/**
 * JSON for event data that just came out of decodeEventDataOrThrow: the Avro decoder already
 * guarantees it fits its schema, and it was validated when written, so it is not checked again
 * (the recorder's hot path).
 */
export function decodedEventDataToJson(decoded: AnyEventData): Record<string, unknown> {
  const schema = eventSchemaOrThrow(decoded.type, decoded.version).avroType;
  return toJson(schema, decoded.value) as Record<string, unknown>;
}

/** Event data read back from its stored JSON. Throws ContractError INVALID_VALUE when the JSON does not fit. */
export function eventDataFromJson<T extends EventType, V extends EventVersion<T>>(
  type: T,
  version: V,
  json: unknown,
): EventDataOf<T, V>;
export function eventDataFromJson(
  type: string,
  version: number,
  json: unknown,
): AnyEventData['value'];
export function eventDataFromJson(
  type: string,
  version: number,
  json: unknown,
): AnyEventData['value'] {
  const schema = eventSchemaOrThrow(type, version).avroType;
  const value = fromJson(schema, json);
  // Avro validity only: the value rules are checked when writing, so history stays readable.
  throwIfInvalid(validateAgainst(schema, value), `${type} v${version} (from JSON)`);
  return value as AnyEventData['value'];
}

function throwIfInvalid(errors: readonly ValidationError[], what: string): void {
  if (errors.length > 0) {
    throw new ContractError(
      'INVALID_VALUE',
      `${what}: ${errors.map((e) => e.message).join('; ')}`,
      errors,
    );
  }
}

function toJson(type: Type, value: unknown): unknown {
  if (type instanceof types.RecordType) {
    const record = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const field of type.fields) {
      const v = record[field.name];
      out[field.name] = toJson(field.type, v === undefined ? field.defaultValue() : v);
    }
    return out;
  }
  if (type instanceof types.UnwrappedUnionType) {
    const branch = type.types.find((t) => t.isValid(value));
    return branch ? toJson(branch, value) : value;
  }
  if (type instanceof types.ArrayType)
    return (value as unknown[]).map((item) => toJson(type.itemsType, item));
  if (type instanceof types.MapType) {
    const valuesType = type.valuesType as Type;
    return Object.fromEntries(
      Object.entries(value as object).map(([k, v]) => [k, toJson(valuesType, v)]),
    );
  }
  switch (type.typeName) {
    case 'logical:timestamp-millis':
      return (value as Date).toISOString();
    case 'bytes':
    case 'fixed':
      return (value as Buffer).toString('base64');
    default:
      return value; // strings, numbers, booleans, null, enums, json objects
  }
}

/** The inverse of toJson; what does not fit is passed through for validation to report. */
function fromJson(type: Type, json: unknown): unknown {
  if (type instanceof types.RecordType) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
    const record = json as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(record)) {
      const field = type.fields.find((f) => f.name === key);
      out[key] = field ? fromJson(field.type, v) : v;
    }
    return out;
  }
  if (type instanceof types.UnwrappedUnionType) {
    for (const branch of type.types) {
      const candidate = fromJson(branch, json);
      if (branch.isValid(candidate)) return candidate;
    }
    return json;
  }
  if (type instanceof types.ArrayType) {
    return Array.isArray(json) ? json.map((item) => fromJson(type.itemsType, item)) : json;
  }
  if (type instanceof types.MapType) {
    if (typeof json !== 'object' || json === null) return json;
    const valuesType = type.valuesType as Type;
    return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, fromJson(valuesType, v)]));
  }
  switch (type.typeName) {
    case 'logical:timestamp-millis':
      return typeof json === 'string' && ISO_8601.test(json) ? new Date(json) : json;
    case 'bytes':
    case 'fixed':
      return typeof json === 'string' ? Buffer.from(json, 'base64') : json;
    default:
      return json;
  }
}

/** What Date#toISOString writes (and close relatives with an offset), nothing looser. */
const ISO_8601 = /^[+-]?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
