import { TouchlineException } from '../common/touchline.exception';
import { isJsonObject } from '../collector/segment/segment-message';
import { parseInstant } from '../common/instant';

/** Read untrusted admin request fields; every problem is a 400 naming the field. */
export class RequestFields {
  constructor(private readonly body: unknown) {
    if (body !== undefined && !isJsonObject(body)) {
      throw new TouchlineException('INVALID_REQUEST', 'The body must be a JSON object');
    }
  }

  private get(field: string): unknown {
    return isJsonObject(this.body) ? this.body[field] : undefined;
  }

  string(field: string, options: { required: true; pattern?: RegExp; max?: number }): string;
  string(
    field: string,
    options?: { required?: false; pattern?: RegExp; max?: number },
  ): string | undefined;
  string(
    field: string,
    options: { required?: boolean; pattern?: RegExp; max?: number } = {},
  ): string | undefined {
    const value = this.get(field);
    if (value === undefined || value === null) {
      if (options.required) throw new TouchlineException('INVALID_REQUEST', `${field} is required`);
      return undefined;
    }
    if (typeof value !== 'string' || value.length === 0 || value.length > (options.max ?? 200)) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `${field} must be a string of 1 to ${options.max ?? 200} characters`,
      );
    }
    if (options.pattern && !options.pattern.test(value)) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `${field} must match ${String(options.pattern)}`,
      );
    }
    return value;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.get(field);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `${field} must be one of ${allowed.join(', ')}`,
      );
    }
    return value as T;
  }

  positiveInteger(field: string, max: number): number | undefined {
    const value = this.get(field);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `${field} must be an integer from 1 to ${max}`,
      );
    }
    return value;
  }

  futureDate(field: string, now: Date): Date | undefined {
    const value = this.get(field);
    if (value === undefined || value === null) return undefined;
    const date = typeof value === 'string' ? parseInstant(value) : null;
    if (date === null || date <= now) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `${field} must be an ISO-8601 date-time in the future`,
      );
    }
    return date;
  }

  raw(field: string): unknown {
    return this.get(field);
  }
}

/** `?limit=` for listings: 1..max, default `fallback`. */
export function limitParam(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new TouchlineException('INVALID_REQUEST', `limit must be an integer from 1 to ${max}`);
  }
  return Number(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function uuidParam(name: string, value: string): string {
  if (!UUID.test(value)) throw new TouchlineException('INVALID_REQUEST', `${name} must be a UUID`);
  return value.toLowerCase();
}
