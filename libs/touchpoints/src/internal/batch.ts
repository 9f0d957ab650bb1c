import type { FieldError } from '../errors';
import type { TouchpointEvent } from '../events';
import { MappingResultBuilder, type MappingResult } from '../result';
import { FieldReader, isRecord, type JsonRecord } from './reader';

export const MAX_BATCH_ITEMS = 500;

/**
 * Runs `map` over `{ [listKey]: [...] }` or a single item; each item is answered on its own,
 * and an item that is not an object, or a list too long, is an error naming the field.
 */
export function mapBatch<E extends TouchpointEvent>(
  body: unknown,
  listKey: string,
  map: (r: FieldReader, item: JsonRecord, path: string) => E | null,
): MappingResult<E> {
  const result = new MappingResultBuilder<E>();
  const fail = (errors: FieldError[]): MappingResult<E> => {
    result.reject(null, null, errors, body);
    return result.build();
  };
  if (!isRecord(body)) return fail([{ path: '', rule: 'type', message: 'must be a JSON object' }]);
  const list = Object.prototype.hasOwnProperty.call(body, listKey) ? body[listKey] : undefined;
  const items: readonly unknown[] | null =
    list === undefined ? [body] : Array.isArray(list) ? list : null;
  if (items === null) return fail([{ path: listKey, rule: 'type', message: 'must be a list' }]);
  if (items.length > MAX_BATCH_ITEMS) {
    return fail([
      { path: listKey, rule: 'length', message: `must have at most ${MAX_BATCH_ITEMS} items` },
    ]);
  }
  const batched = list !== undefined;
  items.forEach((item: unknown, index) => {
    const r = new FieldReader();
    const path = batched ? `${listKey}[${index}]` : '';
    const o = r.record(item, path);
    const itemId = isRecord(item) && typeof item['id'] === 'string' ? item['id'] : null;
    const event = o === null ? null : map(r, o, path);
    if (!r.ok || event === null) result.reject(index, itemId, r.errors, item);
    else result.events.push(event);
  });
  return result.build();
}
