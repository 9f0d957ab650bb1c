import type { FastifyRequest } from 'fastify';
import { isJsonObject } from './segment/segment-message';

/**
 * Segment's clients send the write key as the HTTP Basic user name (empty password); some put
 * `writeKey` in the body instead.
 */
export function writeKeyOf(request: FastifyRequest, body: unknown): string | null {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
    if (user.length > 0) return user;
  }
  if (isJsonObject(body) && typeof body['writeKey'] === 'string' && body['writeKey'].length > 0) {
    return body['writeKey'];
  }
  return null;
}
