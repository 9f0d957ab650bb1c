import { createHash, timingSafeEqual } from 'node:crypto';

import { TouchpointError } from '../errors';

/**
 * Compares two secrets in time independent of where they differ. Both sides are hashed first so
 * that inputs of different lengths compare in constant time too (timingSafeEqual needs equal lengths).
 */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** Strict base64: node's decoder ignores garbage, so re-encode and compare. */
export function decodeBase64Strict(value: string): Buffer | null {
  const trimmed = value.trim();
  if (trimmed.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) return null;
  const decoded = Buffer.from(trimmed, 'base64');
  const reencoded = decoded.toString('base64');
  return reencoded.replace(/=+$/, '') === trimmed.replace(/=+$/, '') ? decoded : null;
}

export function secretsList(secrets: string | readonly string[], what: string): readonly string[] {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    return throwConfiguration(`${what}: at least one non-empty secret is required`);
  }
  return list;
}

function throwConfiguration(message: string): never {
  throw new TouchpointError('INVALID_CONFIGURATION', message);
}
