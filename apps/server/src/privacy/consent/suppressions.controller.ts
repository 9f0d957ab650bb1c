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
import {
  ApiBearerAuth,
  ApiBody,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { limitParam, RequestFields, uuidParam } from '../../admin/request-parsing';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../../auth/api-key.guard';
import { AuditLog } from '../../auth/audit-log';
import { TouchlineException } from '../../common/touchline.exception';
import {
  canonicalSuppressedIdentifier,
  type Suppression,
  SUPPRESSION_IDENTIFIER_TYPES,
  SuppressionList,
} from './suppression-list';

const MAX_REASON_LENGTH = 500;

/**
 * The suppression list: an identifier on it has no further events stored (the recorder drops
 * them). Admin keys only; every change audited with the suppression's id, never the identifier.
 */
@ApiTags('privacy')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/suppressions')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class SuppressionsController {
  constructor(
    @Inject(SuppressionList) private readonly suppressions: SuppressionList,
    private readonly audit: AuditLog,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Suppress an identifier: no further events carrying it are stored',
    description:
      'Only a keyed hash of the normalized identifier is kept. Suppressing an identifier that is already suppressed is a no-op that answers the existing suppression (created: false).',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['type', 'value', 'reason'],
      properties: {
        type: { type: 'string', enum: [...SUPPRESSION_IDENTIFIER_TYPES] },
        value: {
          type: 'string',
          description: 'The identifier; externalId as <system>:<id>, phone in E.164',
        },
        reason: {
          type: 'string',
          description: `Why, at most ${MAX_REASON_LENGTH} characters; no personal data`,
        },
      },
    },
  })
  @ApiResponse({ status: 400, description: 'type, value or reason missing or malformed (named)' })
  async suppress(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<{ created: boolean; suppression: Suppression }> {
    const fields = new RequestFields(body);
    const type = fields.oneOf('type', SUPPRESSION_IDENTIFIER_TYPES);
    const value = fields.string('value', { required: true, max: 512 });
    const reason = fields.string('reason', { required: true, max: MAX_REASON_LENGTH });
    const canonical = canonicalSuppressedIdentifier(type, value);
    if (!canonical.ok) throw new TouchlineException('INVALID_REQUEST', canonical.message);
    const result = await this.suppressions.add({
      canonical: canonical.canonical,
      type,
      reason,
      createdBy: request.principal?.keyId ?? null,
    });
    await this.audit.record({
      actorKeyId: request.principal?.keyId ?? null,
      action: 'suppression.create',
      target: result.suppression.id,
      outcome: result.created ? 'done' : 'no-op',
      details: { identifierType: type },
    });
    return result;
  }

  @Get()
  @ApiOperation({ summary: 'List suppressions, newest first (never the identifiers)' })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 100' })
  async list(@Query() query: Record<string, unknown>): Promise<{ items: Suppression[] }> {
    const unknown = Object.keys(query).find((name) => name !== 'limit');
    if (unknown !== undefined) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `unknown parameter ${unknown.slice(0, 100)}; known: limit`,
      );
    }
    const limit = query['limit'];
    if (limit !== undefined && typeof limit !== 'string')
      throw new TouchlineException('INVALID_REQUEST', 'limit may be given once');
    return { items: await this.suppressions.list(limitParam(limit, 100, 1000)) };
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Lift a suppression: events carrying the identifier are stored again' })
  @ApiResponse({ status: 400, description: 'id is not a UUID' })
  @ApiResponse({ status: 404, description: 'No suppression with this id' })
  async lift(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
  ): Promise<{ id: string; lifted: true }> {
    const suppressionId = uuidParam('id', id);
    const lifted = await this.suppressions.lift(suppressionId);
    await this.audit.record({
      actorKeyId: request.principal?.keyId ?? null,
      action: 'suppression.lift',
      target: suppressionId,
      outcome: lifted ? 'done' : 'not-found',
    });
    if (!lifted) throw new TouchlineException('NOT_FOUND', `No suppression ${suppressionId}`);
    return { id: suppressionId, lifted: true };
  }
}
