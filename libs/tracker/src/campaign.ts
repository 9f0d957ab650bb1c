import type { JsonObject } from './types';

/**
 * UTM parameters of a query string as Segment's context.campaign: `utm_campaign` becomes
 * `name`, every other `utm_x` becomes `x`. Undefined when there are none.
 */
export function campaignFromSearch(search: string): JsonObject | undefined {
  const campaign: JsonObject = {};
  let found = false;
  for (const pair of search.replace(/^\?/, '').split('&')) {
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    if (!/^utm_./i.test(key)) continue;
    const field = key.slice(4).toLowerCase();
    campaign[field === 'campaign' ? 'name' : field] = eq < 0 ? '' : decode(pair.slice(eq + 1));
    found = true;
  }
  return found ? campaign : undefined;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    // A malformed escape (a lone %) is kept as written rather than losing the value.
    return text;
  }
}
