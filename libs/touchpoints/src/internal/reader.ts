import type { FieldError, FieldRule } from '../errors';
import { normalizeEmail } from '../identifiers/email';
import { normalizePhoneE164, type CountryCode } from '../identifiers/phone';

export type JsonRecord = Readonly<Record<string, unknown>>;

const DEFAULT_MAX_STRING = 8192;
const ISO_TIMESTAMP =
  /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
// Anything outside 1970..9999 is a unit mistake (milliseconds sent as seconds) or garbage.
const MAX_EPOCH_MS = Date.UTC(9999, 11, 31);

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/**
 * Reads fields of untrusted JSON and collects every problem (field and rule) instead of stopping
 * at the first; the caller checks `ok` once. Wrong input never throws.
 */
export class FieldReader {
  readonly errors: FieldError[] = [];

  get ok(): boolean {
    return this.errors.length === 0;
  }

  fail(path: string, rule: FieldRule, message: string): null {
    this.errors.push({ path, rule, message });
    return null;
  }

  record(value: unknown, path: string): JsonRecord | null {
    if (isRecord(value)) return value;
    return this.fail(
      path,
      value === undefined || value === null ? 'required' : 'type',
      'must be a JSON object',
    );
  }

  optionalRecord(o: JsonRecord, key: string, base: string): JsonRecord | null {
    const value = o[key];
    if (value === undefined || value === null) return null;
    return this.record(value, joinPath(base, key));
  }

  string(o: JsonRecord, key: string, base: string, maxLength = DEFAULT_MAX_STRING): string | null {
    const value = o[key];
    if (value === undefined || value === null || value === '')
      return this.fail(joinPath(base, key), 'required', 'is required');
    return this.checkString(value, joinPath(base, key), maxLength);
  }

  optionalString(
    o: JsonRecord,
    key: string,
    base: string,
    maxLength = DEFAULT_MAX_STRING,
  ): string | null {
    const value = o[key];
    if (value === undefined || value === null || value === '') return null;
    return this.checkString(value, joinPath(base, key), maxLength);
  }

  /** An id that providers send as a number or a string (Postmark's bounce ID, for one). */
  id(o: JsonRecord, key: string, base: string): string | null {
    const value = o[key];
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    return this.string(o, key, base, 512);
  }

  optionalId(o: JsonRecord, key: string, base: string): string | null {
    const value = o[key];
    if (value === undefined || value === null || value === '') return null;
    return this.id(o, key, base);
  }

  private checkString(value: unknown, path: string, maxLength: number): string | null {
    if (typeof value !== 'string') return this.fail(path, 'type', 'must be a string');
    if (value.length > maxLength)
      return this.fail(path, 'length', `must have at most ${maxLength} characters`);
    return value;
  }

  oneOf<T extends string>(
    o: JsonRecord,
    key: string,
    base: string,
    allowed: readonly T[],
  ): T | null {
    const value = this.string(o, key, base, 256);
    if (value === null) return null;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    return this.fail(joinPath(base, key), 'enum', `must be one of ${allowed.join(', ')}`);
  }

  optionalBoolean(o: JsonRecord, key: string, base: string): boolean | null {
    const value = o[key];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'boolean')
      return this.fail(joinPath(base, key), 'type', 'must be true or false');
    return value;
  }

  /** A non-negative integer, also accepted as a string of digits (form-encoded providers). */
  optionalCount(o: JsonRecord, key: string, base: string, max = 2_147_483_647): number | null {
    const value = o[key];
    if (value === undefined || value === null || value === '') return null;
    const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      return this.fail(joinPath(base, key), 'type', 'must be a whole number');
    }
    if (n < 0 || n > max)
      return this.fail(joinPath(base, key), 'range', `must be between 0 and ${max}`);
    return n;
  }

  count(o: JsonRecord, key: string, base: string, max?: number): number | null {
    const value = o[key];
    if (value === undefined || value === null || value === '')
      return this.fail(joinPath(base, key), 'required', 'is required');
    return this.optionalCount(o, key, base, max);
  }

  optionalStringArray(o: JsonRecord, key: string, base: string, maxItems = 100): string[] {
    const value = o[key];
    if (value === undefined || value === null) return [];
    const path = joinPath(base, key);
    if (typeof value === 'string') return [value];
    if (!Array.isArray(value)) return this.fail(path, 'type', 'must be a list of strings') ?? [];
    if (value.length > maxItems)
      return this.fail(path, 'length', `must have at most ${maxItems} items`) ?? [];
    const out: string[] = [];
    value.forEach((item: unknown, i) => {
      const s = this.checkString(item, joinPath(path, i), 1024);
      if (s !== null) out.push(s);
    });
    return out;
  }

  email(o: JsonRecord, key: string, base: string): string | null {
    const value = o[key];
    if (value === undefined || value === null || value === '')
      return this.fail(joinPath(base, key), 'required', 'is required');
    return this.emailValue(value, joinPath(base, key));
  }

  optionalEmail(o: JsonRecord, key: string, base: string): string | null {
    const value = o[key];
    if (value === undefined || value === null || value === '') return null;
    return this.emailValue(value, joinPath(base, key));
  }

  emailValue(value: unknown, path: string): string | null {
    const result = normalizeEmail(value);
    if (result.ok) return result.value;
    return this.fail(path, result.reason === 'not-a-string' ? 'type' : 'email', result.message);
  }

  optionalPhone(
    o: JsonRecord,
    key: string,
    base: string,
    defaultCountry?: CountryCode,
  ): string | null {
    const value = o[key];
    if (value === undefined || value === null || value === '') return null;
    const result = normalizePhoneE164(value, defaultCountry);
    if (result.ok) return result.value;
    return this.fail(
      joinPath(base, key),
      result.reason === 'not-a-string' ? 'type' : 'phone',
      result.message,
    );
  }

  /** ISO 8601 with a zone offset (a time without a zone is ambiguous and refused). */
  isoTimestamp(o: JsonRecord, key: string, base: string): Date | null {
    const value = this.string(o, key, base, 64);
    if (value === null) return null;
    return this.dateOrFail(
      ISO_TIMESTAMP.test(value) ? Date.parse(value) : NaN,
      joinPath(base, key),
      'an ISO 8601 time with a zone',
    );
  }

  optionalIsoTimestamp(o: JsonRecord, key: string, base: string): Date | null {
    const value = o[key];
    if (value === undefined || value === null || value === '') return null;
    return this.isoTimestamp(o, key, base);
  }

  /** Seconds since the epoch, integer or fractional, as a number or a numeric string. */
  unixSeconds(o: JsonRecord, key: string, base: string): Date | null {
    const value = o[key];
    const path = joinPath(base, key);
    if (value === undefined || value === null || value === '')
      return this.fail(path, 'required', 'is required');
    const n =
      typeof value === 'string' && /^\d{1,12}(?:\.\d{1,9})?$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n))
      return this.fail(path, 'timestamp', 'must be seconds since the epoch');
    return this.dateOrFail(Math.round(n * 1000), path, 'seconds since the epoch');
  }

  /** RFC 2822 as Twilio sends it: "Tue, 10 Jan 2023 18:47:18 +0000". */
  optionalRfc2822(o: JsonRecord, key: string, base: string): Date | null {
    const value = o[key];
    if (value === undefined || value === null || value === '') return null;
    const path = joinPath(base, key);
    if (typeof value !== 'string' || value.length > 64)
      return this.fail(path, 'type', 'must be a string');
    const valid =
      /^(?:[A-Za-z]{3}, )?\d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}(?::\d{2})? (?:[+-]\d{4}|GMT|UT|UTC)$/.test(
        value,
      );
    return this.dateOrFail(valid ? Date.parse(value) : NaN, path, 'an RFC 2822 date');
  }

  private dateOrFail(ms: number, path: string, what: string): Date | null {
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_EPOCH_MS)
      return this.fail(path, 'timestamp', `must be ${what}`);
    return new Date(ms);
  }
}

/** JSON.parse that answers instead of throwing. */
export function parseJson(
  text: string,
): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error: unknown) {
    return { ok: false, message: error instanceof Error ? error.message : 'not JSON' };
  }
}
