import { TouchpointError } from '../errors';
import type { HeaderBag } from '../internal/headers';

/** A webhook request as the HTTP layer received it: the raw body, byte for byte, is what is signed. */
export interface WebhookRequest {
  readonly rawBody: string | Uint8Array;
  readonly headers: HeaderBag;
}

/** Seconds a signed timestamp may differ from the receive time before the request is refused. */
export const DEFAULT_TOLERANCE_SECONDS = 600;

export function checkFreshnessOrThrow(
  signedAtMs: number,
  now: Date,
  toleranceSeconds: number | null | undefined,
): void {
  const tolerance = toleranceSeconds === undefined ? DEFAULT_TOLERANCE_SECONDS : toleranceSeconds;
  if (tolerance === null) return;
  if (Math.abs(now.getTime() - signedAtMs) > tolerance * 1000) {
    throw new TouchpointError(
      'STALE_TIMESTAMP',
      `the signed timestamp is more than ${tolerance} s from now`,
    );
  }
}
