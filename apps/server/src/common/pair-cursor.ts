import { TouchlineException } from './touchline.exception';

/**
 * Keyset-pagination cursors of two parts (the sort value and a tie-breaking id), opaque to
 * clients: base64url of a JSON pair. Shared by every paged read API.
 */
export function encodeCursor(parts: [string, string]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** The two parts of a cursor this API made; anything else is a 400 naming the parameter. */
export function decodeCursorOrThrow(cursor: string): [string, string] {
  try {
    if (cursor.length <= 500) {
      const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (
        Array.isArray(parts) &&
        parts.length === 2 &&
        typeof parts[0] === 'string' &&
        typeof parts[1] === 'string'
      ) {
        return [parts[0], parts[1]];
      }
    }
  } catch {
    // answered below
  }
  throw new TouchlineException(
    'INVALID_REQUEST',
    'cursor is not a cursor this API returned; pass nextCursor from the previous page unchanged',
  );
}
