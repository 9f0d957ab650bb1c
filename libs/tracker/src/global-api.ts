import type { TrackerEnvironment } from './environment';
import { Tracker, TrackerError } from './tracker';
import type { JsonObject, TrackerOptions } from './types';

/** `window.touchline`: every method returns nothing and never throws into the host page. */
export interface TouchlineApi {
  init: (options: TrackerOptions) => void;
  track: (event: string, properties?: JsonObject) => void;
  page: (name?: string | JsonObject, properties?: JsonObject) => void;
  identify: (userId?: string | number | JsonObject | null, traits?: JsonObject) => void;
  consent: (value: 'granted' | 'denied') => void;
  reset: () => void;
  /** The current anonymous id (undefined before init): pass it to your server to join calls. */
  anonymousId: () => string | undefined;
}

type QueuedCall = [keyof TouchlineApi, ...unknown[]];

/** Calls made before init are kept (up to this many) and replayed by init. */
const MAX_EARLY_CALLS = 100;

/**
 * The public API over a tracker created lazily by `init`. `stub` is what a loader snippet left
 * on `window.touchline`: an array of `[method, ...args]` calls made before this script ran.
 */
export function createGlobalApi(
  environment: (options: TrackerOptions) => TrackerEnvironment,
  defaultHost: string | undefined,
  stub: unknown,
): TouchlineApi {
  let tracker: Tracker | undefined;
  let onError: ((error: unknown) => void) | undefined;
  const early: QueuedCall[] = [];

  const report = (error: unknown): void => {
    try {
      onError?.(error);
    } catch {
      // The host's handler failed too.
    }
  };
  const guarded =
    <A extends unknown[]>(method: keyof TouchlineApi, run: (t: Tracker, ...args: A) => void) =>
    (...args: A): void => {
      try {
        if (tracker) run(tracker, ...args);
        else if (early.length < MAX_EARLY_CALLS) early.push([method, ...args]);
      } catch (error) {
        report(error);
      }
    };

  const api: TouchlineApi = {
    init: (options) => {
      try {
        if (tracker) return;
        onError = options?.onError;
        const host = options.host ?? defaultHost;
        if (!host) throw new TrackerError('INVALID_OPTIONS', 'touchline.init needs host');
        tracker = new Tracker({ ...options, host }, environment(options));
        for (const call of early.splice(0)) {
          (api[call[0]] as (...a: unknown[]) => void)(...call.slice(1));
        }
      } catch (error) {
        report(error);
      }
    },
    track: guarded('track', (t, event: string, properties?: JsonObject) =>
      t.track(event, properties),
    ),
    page: guarded('page', (t, name?: string | JsonObject, properties?: JsonObject) =>
      t.page(name, properties),
    ),
    identify: guarded(
      'identify',
      (t, userId?: string | number | JsonObject | null, traits?: JsonObject) =>
        t.identify(userId, traits),
    ),
    consent: guarded('consent', (t, value: 'granted' | 'denied') => t.consent(value)),
    reset: guarded('reset', (t) => t.reset()),
    anonymousId: () => tracker?.getAnonymousId(),
  };

  if (Array.isArray(stub)) {
    for (const call of stub as unknown[]) {
      if (!Array.isArray(call) || typeof call[0] !== 'string') continue;
      const method = api[call[0] as keyof TouchlineApi] as
        ((...args: unknown[]) => void) | undefined;
      if (typeof method === 'function') method(...(call.slice(1) as unknown[]));
    }
  }
  return api;
}
