import { Type, types } from 'avsc';
import { isJsonObject, type JsonObject } from './json';

/** `{"type": "long", "logicalType": "timestamp-millis"}` as a Date (avsc ships no logical types). */
export class TimestampMillisType extends types.LogicalType {
  protected override _fromValue(value: number | Date): Date {
    return value instanceof Date ? value : new Date(value);
  }

  protected override _toValue(value: unknown): number {
    if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
      throw new TypeError('timestamp-millis needs a valid Date');
    }
    return value.getTime();
  }

  protected override _resolve(writer: Type): ((value: number | Date) => Date) | undefined {
    if (Type.isType(writer, 'long', 'int', 'logical:timestamp-millis')) {
      return (value) => this._fromValue(value);
    }
    return undefined;
  }
}

/**
 * `{"type": "string", "logicalType": "json"}`: a JSON object in TypeScript, its JSON text on the
 * wire. Anything but a plain JSON object is invalid, both ways.
 */
export class JsonObjectType extends types.LogicalType {
  protected override _fromValue(value: string | JsonObject): JsonObject {
    const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
    if (!isJsonObject(parsed)) throw new TypeError('a json field must hold a JSON object');
    return parsed;
  }

  protected override _toValue(value: unknown): string {
    if (!isJsonObject(value)) throw new TypeError('a json field must hold a JSON object');
    return JSON.stringify(value);
  }

  protected override _resolve(
    writer: Type,
  ): ((value: string | JsonObject) => JsonObject) | undefined {
    if (Type.isType(writer, 'string', 'logical:json')) return (value) => this._fromValue(value);
    return undefined;
  }
}

export const LOGICAL_TYPES = {
  'timestamp-millis': TimestampMillisType,
  json: JsonObjectType,
};
