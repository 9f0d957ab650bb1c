// Entry point of tracker.js: puts the API on window.touchline, replaying what a loader snippet
// queued before the script arrived.
import { browserEnvironment } from './browser-environment';
import { createGlobalApi, type TouchlineApi } from './global-api';

declare global {
  interface Window {
    touchline?: TouchlineApi | unknown[];
  }
}

(function install(): void {
  const existing = window.touchline;
  if (existing && !Array.isArray(existing)) return; // loaded twice: keep the first
  let defaultHost: string | undefined;
  try {
    const src = (document.currentScript as HTMLScriptElement | null)?.src;
    // The collector that served tracker.js is the default place to send events.
    defaultHost = src ? new URL(src).origin : undefined;
  } catch {
    defaultHost = undefined;
  }
  window.touchline = createGlobalApi(
    (options) => browserEnvironment(window, options.cookieDomain),
    defaultHost,
    existing,
  );
})();
