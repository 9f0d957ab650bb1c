/** A JSON object as carried by a `json` field: plain objects, arrays, strings, finite numbers, booleans, null. */
export type JsonObject = Record<string, unknown>;

const MAX_DEPTH = 64;

/**
 * True for a plain object whose values are all JSON (no Date, undefined, function, bigint, NaN,
 * class instance or cycle), so JSON.stringify then JSON.parse gives back an equal value.
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return isPlainObject(value) && isJsonValue(value, 0);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isJsonValue(value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      if (value === null) return true;
      if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
      if (!isPlainObject(value)) return false;
      return Object.values(value).every((item) => isJsonValue(item, depth + 1));
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      return false;
  }
}
