import { createHmac } from 'node:crypto';

import { TouchpointError } from '../errors';
import { constantTimeEqual, secretsList } from '../internal/crypto';
import { headerValue, type HeaderBag } from '../internal/headers';

export const TWILIO_SIGNATURE_HEADER = 'X-Twilio-Signature';

/** Form parameters, each with all its values (a key may repeat). */
export type FormParams = Readonly<Record<string, readonly string[]>>;

export function parseFormBody(rawBody: string): FormParams {
  const params: Record<string, string[]> = {};
  for (const [key, value] of new URLSearchParams(rawBody)) {
    (Object.prototype.hasOwnProperty.call(params, key) ? params[key]! : (params[key] = [])).push(
      value,
    );
  }
  return params;
}

/** base64 HMAC-SHA1(auth token, full URL + each parameter name and value, sorted by name). */
export function computeTwilioSignature(authToken: string, url: string, params: FormParams): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    for (const value of [...(params[key] ?? [])].sort()) data += key + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/**
 * Twilio signs the URL exactly as it requested it; behind a proxy the port may be shown or not.
 * Like Twilio's own libraries, accept the URL with and without the default port.
 */
function urlVariants(url: string): string[] {
  const variants = new Set([url]);
  try {
    const parsed = new URL(url);
    const defaultPort =
      parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : null;
    if (defaultPort !== null) {
      const withPort = new URL(url);
      const withoutPort = new URL(url);
      withoutPort.port = '';
      variants.add(withoutPort.toString());
      if (parsed.port === '') {
        // URL normalizes a default port away, so insert it by hand.
        variants.add(
          `${parsed.protocol}//${parsed.host}:${defaultPort}${parsed.pathname}${parsed.search}`,
        );
      } else {
        variants.add(withPort.toString());
      }
    }
  } catch {
    // Not a URL: only the literal can match, and will not.
  }
  return [...variants];
}

export interface TwilioRequest {
  /** The full URL Twilio requested, with its query string, as configured in Twilio. */
  readonly url: string;
  readonly rawBody: string | Uint8Array;
  readonly headers: HeaderBag;
}

/** Throws MISSING_SIGNATURE or INVALID_SIGNATURE; returns the verified form parameters. */
export function verifyTwilioSignatureOrThrow(
  request: TwilioRequest,
  authTokens: string | readonly string[],
): FormParams {
  const tokens = secretsList(authTokens, 'Twilio auth tokens');
  const signature = headerValue(request.headers, TWILIO_SIGNATURE_HEADER);
  if (signature === null || signature === '')
    throw new TouchpointError('MISSING_SIGNATURE', 'the X-Twilio-Signature header is missing');
  const body =
    typeof request.rawBody === 'string'
      ? request.rawBody
      : Buffer.from(request.rawBody).toString('utf8');
  const params = parseFormBody(body);
  let valid = false;
  for (const token of tokens) {
    for (const url of urlVariants(request.url)) {
      valid = constantTimeEqual(computeTwilioSignature(token, url, params), signature) || valid;
    }
  }
  if (!valid)
    throw new TouchpointError('INVALID_SIGNATURE', 'the Twilio signature does not verify');
  return params;
}

/** The first value of each parameter, as the mappers read them. */
export function singleValues(params: FormParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(params)) {
    const first = values[0];
    if (first !== undefined) out[key] = first;
  }
  return out;
}
