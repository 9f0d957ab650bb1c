import type { TouchpointError, TouchpointErrorCode } from '@touchline/touchpoints';
import {
  type ErrorCode,
  RETRY_AFTER_SECONDS,
  TouchlineException,
} from '../common/touchline.exception';

const CODE_OF: Record<TouchpointErrorCode, ErrorCode> = {
  MISSING_SIGNATURE: 'UNAUTHORIZED',
  INVALID_SIGNATURE: 'UNAUTHORIZED',
  STALE_TIMESTAMP: 'UNAUTHORIZED',
  REPLAYED_TOKEN: 'UNAUTHORIZED',
  INVALID_CREDENTIALS: 'UNAUTHORIZED',
  UNKNOWN_TOPIC: 'UNAUTHORIZED',
  UNTRUSTED_CERTIFICATE_URL: 'UNAUTHORIZED',
  INVALID_CERTIFICATE: 'UNAUTHORIZED',
  MALFORMED_REQUEST: 'INVALID_REQUEST',
  INVALID_LINK: 'INVALID_REQUEST',
  UNSAFE_URL: 'INVALID_REQUEST',
  CERTIFICATE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INVALID_CONFIGURATION: 'INTERNAL',
};

/** A touchpoint library error as our API error: authentication failures store nothing. */
export function touchpointException(
  error: TouchpointError,
  prefix = 'Refused',
): TouchlineException {
  const code = CODE_OF[error.code];
  return new TouchlineException(
    code,
    `${prefix}: ${error.message}`,
    { reason: error.code },
    code === 'SERVICE_UNAVAILABLE' ? RETRY_AFTER_SECONDS : undefined,
  );
}
