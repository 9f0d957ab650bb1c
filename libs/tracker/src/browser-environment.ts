import type { CookieJar, KeyValueStore, PageInfo, TrackerEnvironment } from './environment';
import { uuidV4 } from './ids';

/** The real browser behind the tracker's environment port. */
export function browserEnvironment(win: Window, cookieDomain?: string): TrackerEnvironment {
  const doc = win.document;
  const nav = win.navigator;
  return {
    now: () => new Date(),
    newId: () => uuidV4(win.crypto, Math.random),
    random: Math.random,
    storage: localStorageOrMemory(win),
    cookies: documentCookies(doc, win.location.protocol === 'https:', cookieDomain),
    page: (): PageInfo => {
      const location = win.location;
      return {
        path: location.pathname,
        referrer: doc.referrer,
        search: location.search,
        title: doc.title,
        url: location.href.split('#')[0] ?? location.href,
      };
    },
    device: () => ({
      userAgent: nav.userAgent,
      locale: nav.language,
      timezone: timezone(),
    }),
    post: (url, body, keepalive) =>
      // A string body is sent as text/plain;charset=UTF-8: a CORS-simple request, no preflight.
      win.fetch(url, { method: 'POST', body, keepalive, credentials: 'omit' }).then(
        (response) => response.status,
        () => 0,
      ),
    beacon: (url, body) => {
      try {
        return nav.sendBeacon(url, new Blob([body], { type: 'text/plain' }));
      } catch {
        return false;
      }
    },
    setTimer: (callback, ms) => win.setTimeout(callback, ms),
    clearTimer: (handle) => win.clearTimeout(handle as number),
    onHide: (listener) => {
      win.addEventListener('pagehide', listener);
      doc.addEventListener('visibilitychange', () => {
        if (doc.visibilityState === 'hidden') listener();
      });
    },
  };
}

function timezone(): string | undefined {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * localStorage throws when disabled (some private modes, sandboxed frames): fall back to memory.
 * Probed on first use, so a page without consent never touches it.
 */
function localStorageOrMemory(win: Window): KeyValueStore {
  const memory: Record<string, string> = {};
  let storage: Storage | null | undefined;
  const local = (): Storage | null => {
    if (storage !== undefined) return storage;
    try {
      storage = win.localStorage;
      storage.setItem('touchline.probe', '1');
      storage.removeItem('touchline.probe');
    } catch {
      storage = null;
    }
    return storage;
  };
  return {
    get: (key) => {
      try {
        const store = local();
        return store ? store.getItem(key) : (memory[key] ?? null);
      } catch {
        return null;
      }
    },
    set: (key, value) => {
      try {
        const store = local();
        if (store) store.setItem(key, value);
        else memory[key] = value;
        return true;
      } catch {
        return false;
      }
    },
    remove: (key) => {
      try {
        const store = local();
        if (store) store.removeItem(key);
        else delete memory[key];
      } catch {
        // Nothing stored that could be removed.
      }
    },
  };
}

function documentCookies(doc: Document, secure: boolean, domain?: string): CookieJar {
  const write = (name: string, value: string, maxAgeSeconds: number): void => {
    try {
      doc.cookie =
        `${name}=${encodeURIComponent(value)}; Max-Age=${maxAgeSeconds}; Path=/; SameSite=Lax` +
        (domain ? `; Domain=${domain}` : '') +
        (secure ? '; Secure' : '');
    } catch {
      // Cookies disabled: localStorage still keeps the id.
    }
  };
  return {
    get: (name) => {
      try {
        for (const part of doc.cookie.split(/;\s*/)) {
          if (part.slice(0, name.length + 1) === `${name}=`) {
            return decodeURIComponent(part.slice(name.length + 1)) || null;
          }
        }
      } catch {
        // Unreadable cookie jar (sandboxed frame) or a malformed value.
      }
      return null;
    },
    set: write,
    remove: (name) => write(name, '', 0),
  };
}
