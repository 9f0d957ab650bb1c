import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CHANNELS } from '@touchline/contracts';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { ApiKeyStore, type CreatedKey, type KeyDescription } from '../auth/api-keys';
import { AuditLog } from '../auth/audit-log';
import { TouchlineException } from '../common/touchline.exception';
import {
  DeadLetterStore,
  InvalidCursorError,
  type StoredDeadLetterSummary,
} from '../dead-letters/dead-letter.store';
import { DeadLetterResubmitter, type ResubmitResult } from './dead-letter-resubmitter';
import { limitParam, RequestFields, uuidParam } from './request-parsing';

const SOURCE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Admin API: sources and keys, dead letters, the audit log. Admin keys only; every action audited. */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class AdminController {
  constructor(
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
    private readonly audit: AuditLog,
    private readonly deadLetters: DeadLetterStore,
    private readonly resubmitter: DeadLetterResubmitter,
  ) {}

  @Post('sources')
  @ApiOperation({ summary: 'Create a source and its write key (shown once)' })
  async createSource(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<CreatedKey> {
    const fields = new RequestFields(body);
    const sourceId = fields.string('sourceId', { required: true, pattern: SOURCE_ID, max: 63 });
    const created = await this.keys.create({
      role: 'ingestion',
      sourceId,
      channel: fields.oneOf('channel', CHANNELS),
      label: fields.string('label') ?? sourceId,
      rateLimitPerSecond: fields.positiveInteger('rateLimitPerSecond', 1_000_000),
      expiresAt: fields.futureDate('expiresAt', new Date()),
    });
    await this.audit.record({
      actorKeyId: actor(request),
      action: 'source.create',
      target: created.keyId,
      outcome: 'done',
      details: { sourceId },
    });
    return created;
  }

  @Post('keys')
  @ApiOperation({ summary: 'Create an analyst or admin API key (shown once)' })
  async createKey(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<CreatedKey> {
    const fields = new RequestFields(body);
    const created = await this.keys.create({
      role: fields.oneOf('role', ['analyst', 'admin'] as const),
      label: fields.string('label', { required: true }),
      expiresAt: fields.futureDate('expiresAt', new Date()),
    });
    await this.audit.record({
      actorKeyId: actor(request),
      action: 'key.create',
      target: created.keyId,
      outcome: 'done',
      details: { role: created.role },
    });
    return created;
  }

  @Get('keys')
  @ApiOperation({ summary: 'List keys (never the secrets)' })
  async listKeys(): Promise<{ items: KeyDescription[] }> {
    return { items: await this.keys.list() };
  }

  @Delete('keys/:id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a key' })
  async revokeKey(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
  ): Promise<{ id: string; revoked: boolean; message: string }> {
    const keyId = uuidParam('id', id);
    const revoked = await this.keys.revoke(keyId);
    const exists = revoked || (await this.keys.list()).some((k) => k.keyId === keyId);
    await this.audit.record({
      actorKeyId: actor(request),
      action: 'key.revoke',
      target: keyId,
      outcome: revoked ? 'done' : exists ? 'no-op' : 'not-found',
    });
    if (!exists) throw new TouchlineException('NOT_FOUND', `No key ${keyId}`);
    return { id: keyId, revoked, message: revoked ? 'revoked' : 'was already revoked' };
  }

  @Get('dead-letters')
  @ApiOperation({ summary: 'List rejected input, newest first (cursor pagination with ?before=)' })
  async listDeadLetters(
    @Query('limit') limit?: string,
    @Query('before') before?: string,
  ): Promise<{ items: StoredDeadLetterSummary[]; next: string | null }> {
    try {
      return await this.deadLetters.list({
        limit: limitParam(limit, 50, 500),
        ...(before ? { before } : {}),
      });
    } catch (error) {
      if (error instanceof InvalidCursorError)
        throw new TouchlineException('INVALID_REQUEST', error.message);
      throw error;
    }
  }

  @Get('dead-letters/:id')
  @ApiOperation({
    summary: 'One dead letter with its raw payload (text when it is UTF-8, and base64)',
  })
  async getDeadLetter(
    @Param('id') id: string,
  ): Promise<StoredDeadLetterSummary & { rawBase64: string; rawText: string | null }> {
    const letter = await this.deadLetters.get(uuidParam('id', id));
    if (!letter) throw new TouchlineException('NOT_FOUND', `No dead letter ${id}`);
    const { raw, ...summary } = letter;
    const text = raw.toString('utf8');
    return {
      ...summary,
      rawBase64: raw.toString('base64'),
      rawText: Buffer.from(text, 'utf8').equals(raw) ? text : null,
    };
  }

  @Post('dead-letters/:id/resubmit')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Send a dead letter through the collector again, optionally with {"payload": <fixed JSON>}',
  })
  async resubmit(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
    @Body() body: unknown,
  ): Promise<ResubmitResult> {
    const letterId = uuidParam('id', id);
    const replacement = new RequestFields(body ?? {}).raw('payload');
    try {
      const result = await this.resubmitter.resubmit(letterId, replacement);
      await this.audit.record({
        actorKeyId: actor(request),
        action: 'dead-letter.resubmit',
        target: letterId,
        outcome: result.resubmitted ? 'done' : 'refused',
        details: { items: result.results.length },
      });
      return result;
    } catch (error) {
      if (error instanceof TouchlineException) {
        await this.audit.record({
          actorKeyId: actor(request),
          action: 'dead-letter.resubmit',
          target: letterId,
          outcome: error.code === 'NOT_FOUND' ? 'not-found' : 'refused',
          details: { reason: error.code },
        });
      }
      throw error;
    }
  }

  @Get('audit')
  @ApiOperation({ summary: 'The audit log, newest first' })
  async auditLog(@Query('limit') limit?: string): Promise<{ items: unknown[] }> {
    return { items: await this.audit.list(limitParam(limit, 100, 1_000)) };
  }
}

function actor(request: AuthenticatedRequest): string | null {
  return request.principal?.keyId ?? null;
}
