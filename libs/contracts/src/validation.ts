import { Type, types } from 'avsc';
import type { ValidationError } from './errors';
import type { AnyEventData, EventDataByType, EventType } from './generated/types';
import { SCHEMA_REGISTRY, type RegisteredSchema } from './registry';
import { valueRuleErrors } from './value-rules';

/** The data type of an event type and version, e.g. EventDataOf<'WebEventTracked', 1>. */
export type EventDataOf<T extends EventType, V extends EventVersion<T>> = EventDataByType[T][V];
/** The schema versions of an event type. */
export type EventVersion<T extends EventType> = keyof EventDataByType[T] & number;

export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly ValidationError[] };

/**
 * Checks a value against its event schema, at the edge. On success `value` is the input with
 * omitted defaulted fields filled in (e.g. a missing sentAt becomes null), typed by the schema.
 * Unknown fields, wrong types, missing fields and non-object json fields are reported per field,
 * and so is a break of the schema's own value rules (`decimal`, `non-negative`, `currency`,
 * allowed values: see value-rules.ts), e.g. `{ path: 'products[2].price', rule: 'non-negative' }`.
 */
export function validateEventData<T extends EventType, V extends EventVersion<T>>(
  type: T,
  version: V,
  value: unknown,
): ValidationResult<EventDataOf<T, V>>;
export function validateEventData(
  type: string,
  version: number,
  value: unknown,
): ValidationResult<AnyEventData['value']>;
export function validateEventData(
  type: string,
  version: number,
  value: unknown,
): ValidationResult<AnyEventData['value']> {
  const entry = SCHEMA_REGISTRY.event(type, version);
  if (!entry) {
    const message = `no schema for event type ${describeName(type)} version ${String(version)}`;
    return { ok: false, errors: [{ path: '(event)', rule: 'unknown-event-type', message }] };
  }
  const errors = validateForWriting(entry, value);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: withDefaults(entry.avroType, value) as AnyEventData['value'] };
}

/**
 * What must hold before a value is written: its Avro type, then the schema's value rules (for
 * fields Avro found no fault with).
 */
export function validateForWriting(entry: RegisteredSchema, value: unknown): ValidationError[] {
  const errors = validateAgainst(entry.avroType, value);
  const reported = new Set(errors.map((e) => e.path));
  for (const error of valueRuleErrors(entry.source.schema, value)) {
    if (!reported.has(error.path)) errors.push(error);
  }
  return errors;
}

/** Every way `value` breaks `type`, one entry per failing field, undeclared fields last. */
export function validateAgainst(type: Type, value: unknown): ValidationError[] {
  const errors: ValidationError[] = [];
  const collect = (path: string[], failing: unknown, failingType: Type): void => {
    errors.push(...describeFailure(path, failing, failingType));
  };
  type.isValid(value, { errorHook: collect });
  // A second pass for undeclared fields: with that flag avsc stops at a record holding one and
  // would hide the errors of its declared fields.
  const seen = new Set(errors.map((e) => e.path));
  type.isValid(value, {
    noUndeclaredFields: true,
    errorHook: (path, failing, failingType) => {
      for (const error of describeFailure(path, failing, failingType)) {
        if (error.rule === 'unknown-field' && !seen.has(error.path)) errors.push(error);
      }
    },
  });
  return errors;
}

function describeFailure(path: string[], value: unknown, type: Type): ValidationError[] {
  const where = formatPath(path);
  if (type instanceof types.RecordType && isObject(value)) {
    // A record that holds an object fails the check only through undeclared fields.
    const declared = new Set(type.fields.map((f) => f.name));
    return Object.keys(value)
      .filter((key) => !declared.has(key))
      .map((key) => {
        const field = formatPath([...path, key]);
        return {
          path: field,
          rule: 'unknown-field',
          message: `${field} is not a field of ${type.name ?? 'the record'}`,
        };
      });
  }
  if (value === undefined)
    return [{ path: where, rule: 'required', message: `${where} is required` }];
  switch (type.typeName) {
    case 'logical:json':
      return [
        {
          path: where,
          rule: 'json-object',
          message: `${where} must be a JSON object (plain object of JSON values), got ${describeValue(value)}`,
        },
      ];
    case 'logical:timestamp-millis':
      return [
        {
          path: where,
          rule: 'timestamp',
          message: `${where} must be a valid Date, got ${describeValue(value)}`,
        },
      ];
    case 'enum': {
      const symbols = (type as types.EnumType).symbols.join(', ');
      return [{ path: where, rule: 'enum', message: `${where} must be one of ${symbols}` }];
    }
    default:
      return [
        {
          path: where,
          rule: 'type',
          message: `${where} must be ${describeType(type)}, got ${describeValue(value)}`,
        },
      ];
  }
}

function describeType(type: Type): string {
  if (type instanceof types.UnwrappedUnionType) return type.types.map(describeType).join(' or ');
  switch (type.typeName) {
    case 'null':
      return 'null';
    case 'int':
    case 'long':
      return 'an integer';
    case 'float':
    case 'double':
      return 'a number';
    case 'bytes':
    case 'fixed':
      return 'a Buffer';
    case 'logical:timestamp-millis':
      return 'a Date';
    case 'logical:json':
      return 'a JSON object';
    case 'record':
      return 'an object';
    default:
      return `a ${type.typeName}`;
  }
}

/** The kind of a value, never the value itself: it may be personal data. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'an invalid Date';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'number' && !Number.isInteger(value)) return 'a fraction';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function describeName(type: string): string {
  return JSON.stringify(type.length > 60 ? `${type.slice(0, 60)}...` : type);
}

function formatPath(path: readonly string[]): string {
  if (path.length === 0) return '(value)';
  return path.reduce(
    (out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out ? `${out}.${part}` : part),
    '',
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A shallow copy with omitted fields that have a default set to it, so the value matches its type. */
export function withDefaults(type: Type, value: unknown): unknown {
  if (!(type instanceof types.RecordType) || !isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const field of type.fields) {
    const v = value[field.name];
    out[field.name] = v === undefined ? (field.defaultValue() as unknown) : v;
  }
  return out;
}
