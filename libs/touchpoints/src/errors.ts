/**
 * Why a request was refused before any of its content was read as events. The HTTP layer maps
 * each code to a status in one place (see docs/touchpoints.md): authentication failures are 401
 * or 403 and store nothing; a tracked link that fails is never redirected.
 */
export type TouchpointErrorCode =
  /** The signature, token or credentials the provider must send are absent. */
  | 'MISSING_SIGNATURE'
  /** A signature is present but does not verify with any configured key. */
  | 'INVALID_SIGNATURE'
  /** The signed timestamp is outside the configured tolerance. */
  | 'STALE_TIMESTAMP'
  /** A Mailgun token was already used: a replayed request. */
  | 'REPLAYED_TOKEN'
  /** HTTP Basic credentials are absent or wrong. */
  | 'INVALID_CREDENTIALS'
  /** The SNS SigningCertURL is not https on an sns.<region>.amazonaws.com host: never fetched. */
  | 'UNTRUSTED_CERTIFICATE_URL'
  /** The signing certificate could not be fetched (retryable: the provider will retry). */
  | 'CERTIFICATE_UNAVAILABLE'
  /** The certificate is not a parsable X.509 certificate, or is not valid now. */
  | 'INVALID_CERTIFICATE'
  /** The SNS message comes from a topic this webhook is not configured to accept. */
  | 'UNKNOWN_TOPIC'
  /** The request is too malformed to find what must be verified (not JSON, no signature block). */
  | 'MALFORMED_REQUEST'
  /** A tracked link or pixel whose parameters are missing or malformed. */
  | 'INVALID_LINK'
  /** A tracked-link target that is not an absolute http(s) URL without credentials. */
  | 'UNSAFE_URL'
  /** The library was configured wrongly (no secret, unreadable public key): a deployment error. */
  | 'INVALID_CONFIGURATION';

/** Every refusal of this library: a string code and a message; nothing else is thrown. */
export class TouchpointError extends Error {
  override readonly name = 'TouchpointError';

  constructor(
    readonly code: TouchpointErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isTouchpointError(error: unknown): error is TouchpointError {
  return error instanceof TouchpointError;
}

/** The rule a field breaks; the names shared with @touchline/contracts mean the same there. */
export type FieldRule =
  | 'required'
  | 'type'
  | 'enum'
  | 'format'
  | 'email'
  | 'phone'
  | 'url'
  | 'timestamp'
  | 'range'
  | 'length'
  | 'json';

/** Where an item breaks a rule: `path` names the field (dotted, `[i]` for array items). */
export interface FieldError {
  readonly path: string;
  readonly rule: FieldRule;
  readonly message: string;
}
