import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { TouchlineException } from '../common/touchline.exception';
import { ApiKeyStore, type ApiKeyPrincipal, type KeyRole } from './api-keys';

const ROLES_KEY = 'touchline:roles';

/** Roles allowed to call a route; admin may call everything. */
export const RequireRole = (...roles: KeyRole[]) => SetMetadata(ROLES_KEY, roles);

export interface AuthenticatedRequest extends FastifyRequest {
  principal?: ApiKeyPrincipal;
}

export function bearerKey(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer '))
    return header.slice(7).trim() || null;
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey : null;
}

/** API keys for the query and admin APIs: `Authorization: Bearer <key>` or `X-API-Key`. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const roles = this.reflector.getAllAndOverride<KeyRole[] | undefined>(ROLES_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    // Closed by default: a route behind this guard that forgot @RequireRole is a bug, and
    // must not become public because of it.
    if (!roles || roles.length === 0) {
      throw new TouchlineException('FORBIDDEN', 'This endpoint declares no role: refused.');
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = bearerKey(request);
    if (!key) {
      throw new TouchlineException(
        'UNAUTHORIZED',
        'An API key is required: send "Authorization: Bearer <key>".',
      );
    }
    const principal = await this.keys.resolve(key);
    if (!principal)
      throw new TouchlineException('UNAUTHORIZED', 'The API key is unknown, revoked or expired.');
    if (principal.role !== 'admin' && !roles.includes(principal.role)) {
      throw new TouchlineException(
        'FORBIDDEN',
        `This endpoint needs a key with the role ${roles.join(' or ')}.`,
      );
    }
    request.principal = principal;
    return true;
  }
}
