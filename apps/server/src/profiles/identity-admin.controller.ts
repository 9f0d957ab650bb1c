import { Body, Controller, Get, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  isIdentityError,
  parseIdentifierOrThrow,
  type Identifier,
  type UnmergeTarget,
} from '@touchline/identity';
import { RequestFields } from '../admin/request-parsing';
import { isJsonObject } from '../collector/segment/segment-message';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { AuditLog } from '../auth/audit-log';
import { TouchlineException } from '../common/touchline.exception';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import type { CustomerProfileProjection, RevocationOutcome } from './customer-profile.projection';
import { CUSTOMER_PROFILE_PROJECTION } from './profiles.tokens';

const bad = (message: string) => new TouchlineException('INVALID_REQUEST', message);

/** `{linkId}`, `{eventId}` or `{between: [a, b]}` (canonical identifiers), exactly one. */
export function parseUnmergeTargetOrThrow(body: unknown): UnmergeTarget {
  if (!isJsonObject(body)) throw bad('The body must be a JSON object');
  const named = ['linkId', 'eventId', 'between'].filter((field) => body[field] !== undefined);
  if (named.length !== 1) throw bad('give exactly one of linkId, eventId, between');
  const fields = new RequestFields(body);
  const linkId = fields.string('linkId', { max: 200 });
  if (linkId !== undefined) return { linkId };
  const eventId = fields.string('eventId', { max: 200 });
  if (eventId !== undefined) return { eventId };
  const between = body['between'];
  if (
    !Array.isArray(between) ||
    between.length !== 2 ||
    !between.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 600)
  ) {
    throw bad('between must be two identifiers, e.g. ["userId:ada", "anonymousId:a-1"]');
  }
  try {
    const pair = (between as string[]).map(parseIdentifierOrThrow) as [Identifier, Identifier];
    return { between: pair };
  } catch (error: unknown) {
    if (isIdentityError(error)) throw bad(`between: ${error.message}`);
    throw error;
  }
}

/** Admin corrections of the identity graph. Admin keys only; every request is audited. */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/identity')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class IdentityAdminController {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(CUSTOMER_PROFILE_PROJECTION) private readonly projection: CustomerProfileProjection,
    private readonly audit: AuditLog,
  ) {}

  @Post('unmerge')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Undo a merge: separate two identifiers, a link, or everything one event linked',
    description:
      'Body: {"linkId": ...} or {"eventId": ...} (from GET /v1/profiles/{id}/merges) or {"between": ["userId:ada", "anonymousId:a-1"]}, plus an optional "reason". The separation is kept through rebuilds and rule changes; asking twice changes nothing.',
  })
  @ApiResponse({ status: 404, description: 'The graph holds no such link, event or identifier' })
  async unmerge(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<RevocationOutcome> {
    const target = parseUnmergeTargetOrThrow(body);
    const reason = new RequestFields(body).string('reason', { max: 500 }) ?? null;
    const actorKeyId = request.principal?.keyId ?? null;
    const client = await this.runtime.pool.connect();
    let outcome: RevocationOutcome;
    try {
      await client.query('BEGIN');
      outcome = await this.projection.revoke(client, target, {
        reason,
        requestedBy: actorKeyId ?? 'unknown',
      });
      await client.query('COMMIT');
    } catch (error: unknown) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (isIdentityError(error) && error.code === 'UNKNOWN_MERGE') {
        await this.audit.record({ actorKeyId, action: 'identity.unmerge', outcome: 'not-found' });
        throw new TouchlineException('NOT_FOUND', error.message);
      }
      throw error;
    } finally {
      client.release();
    }
    await this.audit.record({
      actorKeyId,
      action: 'identity.unmerge',
      // Identifiers can be emails: the audit log names the customers (hashed ids), not them.
      target: outcome.customers.join(',').slice(0, 400) || undefined,
      outcome: outcome.applied ? 'done' : 'no-op',
      details: { moved: outcome.moved.length },
    });
    return outcome;
  }

  @Get('revocations')
  @ApiOperation({ summary: 'Every merge an admin undid, newest first' })
  async revocations(): Promise<
    { target: unknown; reason: string | null; requestedBy: string; requestedAt: string }[]
  > {
    const rows = await this.runtime.pool.query<{
      target: unknown;
      reason: string | null;
      requested_by: string;
      requested_at: Date;
    }>(
      `SELECT target, reason, requested_by, requested_at FROM identity.revocations
        ORDER BY requested_at DESC, revocation_key LIMIT 1000`,
    );
    return rows.rows.map((row) => ({
      target: row.target,
      reason: row.reason,
      requestedBy: row.requested_by,
      requestedAt: row.requested_at.toISOString(),
    }));
  }
}
