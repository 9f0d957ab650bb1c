import { randomUUID } from 'node:crypto';
import { Body, Controller, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { AuditLog } from '../auth/audit-log';
import { isJsonObject } from '../collector/segment/segment-message';
import { RequestFields } from '../admin/request-parsing';
import { TouchlineException } from '../common/touchline.exception';
import { VALUE_CONFIG } from '../value/value.tokens';
import type { ValueConfig } from '../value/value-config';
import type { ImportRow } from './order-rows';
import { type ImportBatch, type ImportBatchResult, RowImporter } from './row-importer';

export const MAX_IMPORT_ROWS = 5_000;
const SOURCE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * Bulk import of historical orders and contacts (the `touchline import orders|contacts` CLI
 * sends batches here). Every batch is audited.
 */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/import')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class ImportController {
  constructor(
    private readonly importer: RowImporter,
    private readonly audit: AuditLog,
    @Inject(VALUE_CONFIG) private readonly config: ValueConfig,
  ) {}

  @Post('orders')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Import order and refund rows ({ sourceId, defaultCurrency?, rows: [{ line, fields }] }) as OrderCompleted / OrderRefunded events; answers the rejected rows and why',
  })
  async orders(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<ImportBatchResult> {
    const fields = new RequestFields(body);
    const batch = batchOf(fields);
    const defaultCurrency =
      fields.string('defaultCurrency', { pattern: /^[A-Z]{3}$/, max: 3 }) ?? this.config.fx.base;
    const result = await this.importer.importOrders({ ...batch, defaultCurrency });
    return this.audited(request, 'import.orders', batch.sourceId, result);
  }

  @Post('contacts')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Import contact rows ({ sourceId, rows: [{ line, fields }] }: store visits, meetings, tickets, calls, emails) as their touchpoint events; answers the rejected rows and why',
  })
  async contacts(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<ImportBatchResult> {
    const batch = batchOf(new RequestFields(body));
    const result = await this.importer.importContacts(batch);
    return this.audited(request, 'import.contacts', batch.sourceId, result);
  }

  private async audited(
    request: AuthenticatedRequest,
    action: string,
    sourceId: string,
    result: ImportBatchResult,
  ): Promise<ImportBatchResult> {
    await this.audit.record({
      actorKeyId: request.principal?.keyId ?? null,
      action,
      target: sourceId,
      outcome: 'done',
      details: {
        received: result.received,
        accepted: result.accepted,
        rejected: result.rejected.length,
      },
    });
    return result;
  }
}

function batchOf(fields: RequestFields): ImportBatch {
  return {
    sourceId: fields.string('sourceId', { required: true, pattern: SOURCE_ID, max: 63 }),
    rows: parseRows(fields.raw('rows')),
    receivedAt: new Date(),
    correlationId: randomUUID(),
  };
}

function parseRows(value: unknown): ImportRow[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IMPORT_ROWS) {
    throw new TouchlineException(
      'INVALID_REQUEST',
      `rows must be an array of 1 to ${MAX_IMPORT_ROWS} rows`,
    );
  }
  return value.map((row: unknown, index) => {
    if (
      !isJsonObject(row) ||
      typeof row['line'] !== 'number' ||
      !Number.isInteger(row['line']) ||
      row['line'] < 0 ||
      !isJsonObject(row['fields']) ||
      !Object.values(row['fields']).every((v) => typeof v === 'string' && v.length <= 10_000)
    ) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `rows[${index}] must be { line: integer >= 0, fields: { name: string } }`,
      );
    }
    return { line: row['line'], fields: row['fields'] as Record<string, string> };
  });
}
