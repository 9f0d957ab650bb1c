import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * Where `npm run build` (the tracker project's build) writes tracker.js. The same relative path
 * holds from apps/server/src/tracker (tests) and apps/server/dist/tracker (the built server).
 */
export const TRACKER_BUNDLE_PATH = path.resolve(
  __dirname,
  '../../../../libs/tracker/dist/tracker.min.js',
);

/** tracker.js read once at start: plain and gzipped bytes and their strong ETag. */
export interface TrackerBundle {
  readonly plain: Buffer;
  readonly gzipped: Buffer;
  readonly etag: string;
}

/** Null when the bundle was not built: the route answers 404 and start-up logs why. */
export function loadTrackerBundle(file = TRACKER_BUNDLE_PATH): TrackerBundle | null {
  let plain: Buffer;
  try {
    plain = readFileSync(file);
  } catch {
    return null;
  }
  const hash = createHash('sha256').update(plain).digest('base64url').slice(0, 27);
  return { plain, gzipped: gzipSync(plain, { level: 9 }), etag: `"${hash}"` };
}
