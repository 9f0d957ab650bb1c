import { TouchpointError } from '../errors';
import { constantTimeEqual, decodeBase64Strict } from '../internal/crypto';
import { headerValue, type HeaderBag } from '../internal/headers';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * Checks `Authorization: Basic ...` against the configured credentials (several during
 * rotation). Every pair is compared in constant time, without early exit.
 */
export function verifyBasicAuthOrThrow(
  headers: HeaderBag,
  credentials: BasicCredentials | readonly BasicCredentials[],
): void {
  const list = Array.isArray(credentials)
    ? (credentials as readonly BasicCredentials[])
    : [credentials as BasicCredentials];
  if (list.length === 0 || list.some((c) => c.username === '' || c.password === '')) {
    throw new TouchpointError(
      'INVALID_CONFIGURATION',
      'Basic auth: credentials with a user name and a password are required',
    );
  }
  const header = headerValue(headers, 'authorization');
  const match = header === null ? null : /^Basic +([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null)
    throw new TouchpointError('INVALID_CREDENTIALS', 'HTTP Basic credentials are required');
  const decoded = decodeBase64Strict(match[1] ?? '');
  const text = decoded?.toString('utf8') ?? '';
  const colon = text.indexOf(':');
  if (colon < 0)
    throw new TouchpointError('INVALID_CREDENTIALS', 'malformed HTTP Basic credentials');
  const username = text.slice(0, colon);
  const password = text.slice(colon + 1);
  let valid = false;
  for (const c of list) {
    const userOk = constantTimeEqual(username, c.username);
    const passwordOk = constantTimeEqual(password, c.password);
    valid = (userOk && passwordOk) || valid;
  }
  if (!valid) throw new TouchpointError('INVALID_CREDENTIALS', 'wrong HTTP Basic credentials');
}
