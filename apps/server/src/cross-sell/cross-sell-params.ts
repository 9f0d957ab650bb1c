import {
  AFFINITY_OPTION_LIMITS,
  affinityOptionsOrThrow,
  type AffinityOptions,
  CrossSellError,
} from '@touchline/customer-value';
import { RequestFields } from '../admin/request-parsing';
import { isJsonObject } from '../collector/segment/segment-message';
import { TouchlineException } from '../common/touchline.exception';
import type { CandidatesAfter } from './cross-sell-queries';

export type QueryParams = Record<string, string | string[] | undefined>;

const MAX_PRODUCT_ID = 200;
const MAX_CUSTOMER_ID = 520;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const bad = (message: string) => new TouchlineException('INVALID_REQUEST', message);

/** Refuses parameters the route does not know, naming the first one. */
export function onlyParamsOrThrow(query: QueryParams, allowed: readonly string[]): void {
  const unknown = Object.keys(query).find((name) => !allowed.includes(name));
  if (unknown !== undefined)
    throw bad(`unknown parameter ${unknown.slice(0, 50)}; this route takes ${allowed.join(', ')}`);
}

/** One value of a parameter that may not repeat. */
export function singleParam(query: QueryParams, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw bad(`${name} may be given once`);
  return value;
}

export function productParam(value: string | undefined, required: true): string;
export function productParam(value: string | undefined, required: false): string | null;
export function productParam(value: string | undefined, required: boolean): string | null {
  if (value === undefined) {
    if (required) throw bad('product is required: a product id (or sku) as sent in orders');
    return null;
  }
  if (value.length === 0 || value.length > MAX_PRODUCT_ID || CONTROL.test(value))
    throw bad(`product must be 1 to ${MAX_PRODUCT_ID} characters, without control characters`);
  return value;
}

export function customerIdParam(value: string): string {
  if (value.length === 0 || value.length > MAX_CUSTOMER_ID || CONTROL.test(value))
    throw bad(`customerId must be 1 to ${MAX_CUSTOMER_ID} characters, without control characters`);
  return value;
}

export function encodeCursor(after: CandidatesAfter): string {
  return Buffer.from(
    JSON.stringify({ l: after.lift, c: after.confidence, id: after.customerId }),
  ).toString('base64url');
}

export function decodeCursorOrThrow(value: string | undefined): CandidatesAfter | null {
  if (value === undefined) return null;
  const malformed = bad('cursor is malformed: pass the nextCursor of the previous page');
  if (value.length === 0 || value.length > 1_000 || !/^[A-Za-z0-9_-]+$/.test(value))
    throw malformed;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw malformed;
  }
  if (!isJsonObject(parsed)) throw malformed;
  const { l, c, id } = parsed;
  if (
    typeof l !== 'number' ||
    !Number.isFinite(l) ||
    typeof c !== 'number' ||
    !Number.isFinite(c) ||
    typeof id !== 'string' ||
    id.length === 0 ||
    id.length > MAX_CUSTOMER_ID
  )
    throw malformed;
  return { lift: l, confidence: c, customerId: id };
}

const OPTION_FIELDS = Object.keys(AFFINITY_OPTION_LIMITS) as (keyof AffinityOptions)[];

/** The body of POST /v1/admin/cross-sell/compute: every field optional, each checked. */
export function parseComputeRequest(body: unknown): AffinityOptions {
  const fields = new RequestFields(body ?? {});
  const given: Partial<Record<keyof AffinityOptions, number>> = {};
  if (isJsonObject(body)) {
    const unknown = Object.keys(body).find(
      (name) => !(OPTION_FIELDS as readonly string[]).includes(name),
    );
    if (unknown !== undefined)
      throw bad(
        `unknown field ${unknown.slice(0, 50)}; the body takes ${OPTION_FIELDS.join(', ')}`,
      );
  }
  for (const field of OPTION_FIELDS) {
    const value = fields.raw(field);
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number') {
      const { min, max } = AFFINITY_OPTION_LIMITS[field];
      throw bad(`${field} must be a number from ${min} to ${max}`);
    }
    given[field] = value;
  }
  try {
    return affinityOptionsOrThrow(given);
  } catch (error) {
    if (error instanceof CrossSellError) throw bad(error.message);
    throw error;
  }
}
