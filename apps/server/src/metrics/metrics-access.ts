import { createHash, timingSafeEqual } from 'node:crypto';

export type MetricsAccess =
  { readonly kind: 'token'; readonly token: string } | { readonly kind: 'loopback-only' };

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

/**
 * Metrics hold no personal data but describe the system (volumes, lag, errors): with
 * TOUCHLINE_METRICS_TOKEN set, scrapers send it as a bearer token; without it they are served
 * only by a server bound to a loopback address, where only this machine can ask.
 */
export function metricsAccessFrom(env: NodeJS.ProcessEnv): MetricsAccess {
  const token = env['TOUCHLINE_METRICS_TOKEN']?.trim();
  return token ? { kind: 'token', token } : { kind: 'loopback-only' };
}

export type MetricsDecision = 'allow' | 'missing-token' | 'wrong-token' | 'not-loopback';

export function decideMetricsAccess(
  access: MetricsAccess,
  boundHost: string,
  authorization: string | undefined,
): MetricsDecision {
  if (access.kind === 'loopback-only') return LOOPBACK.has(boundHost) ? 'allow' : 'not-loopback';
  if (!authorization?.startsWith('Bearer ')) return 'missing-token';
  // Hash both sides: equal lengths for timingSafeEqual, and no early exit on the length.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(authorization.slice(7).trim()), digest(access.token))
    ? 'allow'
    : 'wrong-token';
}
