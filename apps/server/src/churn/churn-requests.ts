import {
  CHURN_REASON_CODES,
  type ChurnConfig,
  type ChurnReasonCode,
  isChurnReasonCode,
  resolveChurnConfig,
} from '@touchline/customer-value';
import { limitParam } from '../admin/request-parsing';
import { isJsonObject } from '../collector/segment/segment-message';
import { TouchlineException } from '../common/touchline.exception';
import { decodeCursorOrThrow } from '../common/pair-cursor';
import { FLAG_SORTS, type FlagFilter, type FlagSort } from './churn-queries';

export type QueryParams = Record<string, string | string[] | undefined>;

const bad = (message: string, details?: unknown) =>
  new TouchlineException('INVALID_REQUEST', message, details);

const DAY_MS = 86_400_000;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * An as-of time: a date (`2026-03-01`) means the end of that UTC day, so that day's events count,
 * as `clv fit --as-of` reads its date; a date-time with a zone is taken as it is.
 */
export function parseAsOfOrThrow(text: string, name = 'asOf'): Date {
  const day = DATE_ONLY.exec(text);
  let at: Date | null = null;
  if (day) {
    const [, y, m, d] = day.map(Number) as [number, number, number, number];
    const start = new Date(Date.UTC(y, m - 1, d));
    if (start.getUTCMonth() === m - 1 && start.getUTCDate() === d)
      at = new Date(start.getTime() + DAY_MS - 1);
  } else if (DATE_TIME.test(text)) {
    at = new Date(text);
  }
  if (
    at === null ||
    Number.isNaN(at.getTime()) ||
    at.getUTCFullYear() < 1970 ||
    at.getUTCFullYear() > 9999
  ) {
    throw bad(
      `${name} must be a date (YYYY-MM-DD, meaning the end of that UTC day) or an ISO-8601 date-time with a zone`,
    );
  }
  return at;
}

export interface EvaluateRequest {
  readonly asOf: Date | null;
  readonly config: ChurnConfig;
  readonly wait: boolean;
}

const EVALUATE_FIELDS = ['asOf', 'config', 'wait'];

/** `{ asOf?, config?, wait? }`; every problem is a 400 naming the field (or the setting). */
export function parseEvaluateRequest(body: unknown, base: ChurnConfig): EvaluateRequest {
  const fields = body ?? {};
  if (!isJsonObject(fields)) throw bad('The body must be a JSON object');
  const unknown = Object.keys(fields).find((name) => !EVALUATE_FIELDS.includes(name));
  if (unknown !== undefined)
    throw bad(`unknown field ${unknown.slice(0, 100)}; known: ${EVALUATE_FIELDS.join(', ')}`);
  const asOfValue = fields['asOf'];
  let asOf: Date | null = null;
  if (asOfValue !== undefined && asOfValue !== null) {
    if (typeof asOfValue !== 'string' || asOfValue.length > 40) throw bad('asOf must be a string');
    asOf = parseAsOfOrThrow(asOfValue);
  }
  const wait = fields['wait'];
  if (wait !== undefined && typeof wait !== 'boolean') throw bad('wait must be true or false');
  const resolved = resolveChurnConfig(fields['config'], base, 'config');
  if (!resolved.ok) {
    const first = resolved.issues[0]!;
    throw bad(`${first.path} ${first.message}`, { issues: resolved.issues });
  }
  return { asOf, config: resolved.config, wait: wait ?? true };
}

/** One value of a parameter that may not repeat; a repeated one is a 400 naming it. */
export function single(query: QueryParams, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw bad(`${name} may be given once`);
  return value;
}

export function rejectUnknownParams(query: QueryParams, known: readonly string[]): void {
  const unknown = Object.keys(query).find((name) => !known.includes(name));
  if (unknown !== undefined)
    throw bad(`unknown parameter ${unknown.slice(0, 100)}; known: ${known.join(', ')}`);
}

const FLAG_PARAMS = ['reason', 'sort', 'order', 'limit', 'cursor'];
const NUMBER_TEXT = /^-?\d+(\.\d+)?(e-?\d+)?$/;
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** `GET /v1/churn/flags` parameters. */
export function parseFlagFilter(query: QueryParams): FlagFilter {
  rejectUnknownParams(query, FLAG_PARAMS);
  let reasons: ChurnReasonCode[] | null = null;
  const raw = query['reason'];
  if (raw !== undefined) {
    const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(','));
    if (values.length > CHURN_REASON_CODES.length * 2) throw bad('reason takes at most 16 values');
    reasons = values.map((value) => {
      if (!isChurnReasonCode(value))
        throw bad(`reason must be one of ${CHURN_REASON_CODES.join(', ')}`);
      return value;
    });
  }
  const sort = (single(query, 'sort') ?? 'risk') as FlagSort;
  if (!(sort in FLAG_SORTS)) throw bad(`sort must be one of ${Object.keys(FLAG_SORTS).join(', ')}`);
  const orderText = single(query, 'order');
  if (orderText !== undefined && orderText !== 'asc' && orderText !== 'desc')
    throw bad('order must be asc or desc');
  // Most at risk first; longest flagged first.
  const order = orderText ?? (sort === 'risk' ? 'desc' : 'asc');
  const cursor = single(query, 'cursor');
  let after: FlagFilter['after'] = null;
  if (cursor !== undefined) {
    const [value, customerId] = decodeCursorOrThrow(cursor);
    const pattern = sort === 'risk' ? NUMBER_TEXT : TIMESTAMP_TEXT;
    if (!pattern.test(value) || customerId.length > 200)
      throw bad('cursor does not belong to this sort; start again without a cursor');
    after = { value, customerId };
  }
  return { reasons, sort, order, limit: limitParam(single(query, 'limit'), 50, 500), after };
}
