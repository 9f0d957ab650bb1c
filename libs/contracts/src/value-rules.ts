import type { ValidationError } from './errors';

// Rules a schema puts on a type beyond what Avro can express, as custom attributes that Avro
// ignores (they are not part of the canonical form, so they never change a fingerprint):
//   {"type": "string", "rules": ["decimal", "non-negative"]}   money, exact
//   {"type": "string", "rules": ["currency"]}                  ISO 4217 code
//   {"type": "int", "rules": ["non-negative"]}
//   {"type": "string", "allowed": ["in-person", "video"]}      a closed set of values that are
//                                                               not valid Avro enum symbols
// They are checked where data is written (validateEventData, encodeEventData, eventDataToJson),
// never where it is read: tightening a rule must not make history unreadable.
// tools/contracts/lib/contracts-core.cjs (VALUE_RULES) checks schemas use only these names.

/** The names of the rules a schema may put on a type, with the Avro types each applies to. */
export const VALUE_RULES = {
  decimal: ['string'],
  'non-negative': ['int', 'long', 'float', 'double', 'string'],
  currency: ['string'],
} as const satisfies Record<string, readonly string[]>;
export type ValueRule = keyof typeof VALUE_RULES;

/** A decimal number as text: optional minus, digits without leading zeros, optional fraction; no exponent. */
const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;
/** Far beyond any amount of money; bounds the work on hostile input. */
export const MAX_DECIMAL_LENGTH = 40;
const CURRENCY = /^[A-Z]{3}$/;

/** True for a decimal string the `decimal` rule accepts, e.g. "19.99", "0", "-3.5". */
export function isDecimalString(value: string): boolean {
  return value.length <= MAX_DECIMAL_LENGTH && DECIMAL.test(value);
}

/** True for three uppercase ASCII letters, the shape of an ISO 4217 alphabetic code. */
export function isCurrencyCode(value: string): boolean {
  return CURRENCY.test(value);
}

/**
 * Every way `value` breaks the rules and allowed values of `schema` (the schema as written),
 * naming the field path (e.g. products[2].price). Values of the wrong Avro type are skipped:
 * Avro validation reports those.
 */
export function valueRuleErrors(schema: unknown, value: unknown): ValidationError[] {
  const errors: ValidationError[] = [];
  walk(schema, value, '', errors);
  return errors;
}

function walk(type: unknown, value: unknown, path: string, errors: ValidationError[]): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(type)) {
    const branch: unknown = (type as unknown[]).find(
      (t) => t !== 'null' && fits(baseName(t), value),
    );
    if (branch !== undefined) walk(branch, value, path, errors);
    return;
  }
  if (!isObject(type)) return; // a primitive name or a named reference: nothing of ours on it
  const base = baseName(type);
  if (!fits(base, value)) return;
  checkRules(type, value, path, errors);
  if (base === 'record' && isObject(value) && Array.isArray(type['fields'])) {
    for (const field of type['fields'] as unknown[]) {
      if (!isObject(field) || typeof field['name'] !== 'string') continue;
      const name = field['name'];
      walk(field['type'], value[name], path === '' ? name : `${path}.${name}`, errors);
    }
  } else if (base === 'array' && Array.isArray(value)) {
    value.forEach((item, i) => walk(type['items'], item, `${path}[${i}]`, errors));
  } else if (base === 'map' && isObject(value)) {
    for (const [key, item] of Object.entries(value))
      walk(type['values'], item, `${path}.${key}`, errors);
  } else if (isObject(type['type']) || Array.isArray(type['type'])) {
    walk(type['type'], value, path, errors);
  }
}

function checkRules(
  type: Record<string, unknown>,
  value: unknown,
  path: string,
  errors: ValidationError[],
): void {
  const where = path === '' ? '(value)' : path;
  const allowed = type['allowed'];
  if (Array.isArray(allowed) && typeof value === 'string' && !allowed.includes(value)) {
    errors.push({
      path: where,
      rule: 'enum',
      message: `${where} must be one of ${allowed.join(', ')}`,
    });
  }
  const rules = Array.isArray(type['rules']) ? (type['rules'] as unknown[]) : [];
  for (const rule of rules) {
    const error = ruleError(rule, value, where);
    if (error) {
      errors.push(error);
      if (rule === 'decimal') return; // nothing more to say about a string that is not a number
    }
  }
}

function ruleError(rule: unknown, value: unknown, where: string): ValidationError | null {
  switch (rule) {
    case 'decimal':
      return typeof value === 'string' && !isDecimalString(value)
        ? {
            path: where,
            rule: 'decimal',
            message: `${where} must be a decimal number in a string, e.g. "19.99" (digits, an optional fraction, no exponent, at most ${MAX_DECIMAL_LENGTH} characters)`,
          }
        : null;
    case 'non-negative': {
      const negative =
        typeof value === 'number'
          ? value < 0
          : typeof value === 'string' && value.startsWith('-') && /[1-9]/.test(value);
      return negative
        ? { path: where, rule: 'non-negative', message: `${where} must not be negative` }
        : null;
    }
    case 'currency':
      return typeof value === 'string' && !isCurrencyCode(value)
        ? {
            path: where,
            rule: 'currency',
            message: `${where} must be an ISO 4217 currency code: three uppercase letters, e.g. EUR`,
          }
        : null;
    default:
      return null; // the schema checker refuses unknown rule names
  }
}

function baseName(type: unknown): string | null {
  if (typeof type === 'string') return type;
  if (isObject(type)) return baseName(type['type']);
  return null;
}

function fits(base: string | null, value: unknown): boolean {
  switch (base) {
    case 'string':
    case 'enum':
      return typeof value === 'string';
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'record':
    case 'map':
      return isObject(value);
    case null:
    default:
      return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
