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
import { type ImportBatchResult, OrderImporter } from './order-importer';
import type { ImportRow } from './order-rows';

export const MAX_IMPORT_ROWS = 5_000;
const SOURCE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Bulk import of historical orders (the `touchline import orders` CLI sends batches here). */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/import')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class ImportController {
  constructor(
    private readonly importer: OrderImporter,
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
    const sourceId = fields.string('sourceId', { required: true, pattern: SOURCE_ID, max: 63 });
    const defaultCurrency =
      fields.string('defaultCurrency', { pattern: /^[A-Z]{3}$/, max: 3 }) ?? this.config.fx.base;
    const rows = parseRows(fields.raw('rows'));
    const result = await this.importer.importOrders({
      sourceId,
      defaultCurrency,
      rows,
      receivedAt: new Date(),
      correlationId: randomUUID(),
    });
    await this.audit.record({
      actorKeyId: request.principal?.keyId ?? null,
      action: 'import.orders',
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
