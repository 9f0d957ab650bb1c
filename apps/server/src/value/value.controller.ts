import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { limitParam, RequestFields } from '../admin/request-parsing';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { AuditLog } from '../auth/audit-log';
import { isJsonObject } from '../collector/segment/segment-message';
import { TouchlineException } from '../common/touchline.exception';
import { onlyParamsOrThrow, type QueryParams, singleParam } from '../cross-sell/cross-sell-params';
import { parseImportDate } from '../import/order-rows';
import { decodePageCursorOrThrow, ProspectRiskQueries } from './prospect-risk-queries';
import { type ClvFitDto, type ClvFitRequest, ClvService } from './clv.service';
import { type CustomerValueDto, ValueQueries } from './value-queries';

const MAX_ID_LENGTH = 520;

/** Reads a finite number field in [min, max], or the fallback when absent. */
function numberField(
  body: unknown,
  field: string,
  fallback: number,
  min: number,
  max: number,
  integer = false,
): number {
  const value = isJsonObject(body) ? body[field] : undefined;
  if (value === undefined || value === null) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new TouchlineException(
      'INVALID_REQUEST',
      `${field} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
    );
  }
  return value;
}

export function parseFitRequest(body: unknown): ClvFitRequest {
  const fields = new RequestFields(body ?? {});
  const end = fields.string('calibrationEnd', { required: true, max: 40 });
  const calibrationEnd = parseImportDate(end);
  if (calibrationEnd === null) {
    throw new TouchlineException(
      'INVALID_REQUEST',
      'calibrationEnd must be a date (YYYY-MM-DD) or an ISO-8601 date-time',
    );
  }
  const minCustomers =
    isJsonObject(body) && body['minCustomers'] !== undefined
      ? numberField(body, 'minCustomers', 10, 1, 1_000_000, true)
      : undefined;
  return {
    calibrationEnd,
    timeUnitDays: numberField(body, 'timeUnitDays', 7, 1 / 24, 3_660),
    horizonPeriods: numberField(body, 'horizonPeriods', 52, 1, 10_000, true),
    periodLength: numberField(body, 'periodLength', 1, 1e-6, 10_000),
    discountRatePerPeriod: numberField(body, 'discountRatePerPeriod', 0, 0, 10),
    ...(minCustomers === undefined ? {} : { minCustomers }),
  };
}

/** Fitting the CLV models: admin keys only, audited. */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/models/clv')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class ClvAdminController {
  constructor(
    private readonly clv: ClvService,
    private readonly audit: AuditLog,
  ) {}

  @Post('fit')
  @ApiOperation({
    summary:
      'Fit BG/NBD + Gamma-Gamma on the orders read model and score every customer ({ calibrationEnd, timeUnitDays, horizonPeriods, periodLength, discountRatePerPeriod })',
  })
  @ApiResponse({ status: 201, description: 'The stored fit: parameters, log-likelihood, versions' })
  @ApiResponse({
    status: 422,
    description: 'The data cannot identify a model: the refusal (stored too) with its code',
  })
  @HttpCode(201)
  async fit(@Req() request: AuthenticatedRequest, @Body() body: unknown): Promise<ClvFitDto> {
    const fit: ClvFitDto = await this.clv.fit(parseFitRequest(body));
    await this.audit.record({
      actorKeyId: request.principal?.keyId ?? null,
      action: 'clv.fit',
      target: fit.id,
      outcome: fit.status === 'fitted' ? 'done' : 'refused',
      details: { customers: fit.customers, failure: fit.failure?.code ?? null },
    });
    if (fit.status === 'fitted') return fit;
    // The refusal is stored too; the previous fit keeps serving.
    throw new TouchlineException(
      'MODEL_NOT_FITTED',
      `${fit.failure!.model}: ${fit.failure!.code}: ${fit.failure!.message}`,
      fit,
    );
  }
}

/** Customer value for analysts. */
@ApiTags('customers')
@ApiBearerAuth('apiKey')
@Controller('v1')
@UseGuards(ApiKeyGuard)
@RequireRole('analyst')
export class ValueController {
  constructor(
    private readonly queries: ValueQueries,
    private readonly questions: ProspectRiskQueries,
  ) {}

  @Get('customers/:id/value')
  @ApiOperation({
    summary:
      "A customer's historical value (net revenue, orders, AOV, first/last order, flags) and the latest CLV scores with their model",
  })
  @ApiResponse({ status: 404, description: 'No order recorded for this id' })
  async customer(@Param('id') id: string): Promise<CustomerValueDto> {
    if (id.length === 0 || id.length > MAX_ID_LENGTH)
      throw new TouchlineException(
        'INVALID_REQUEST',
        `id must be 1 to ${MAX_ID_LENGTH} characters`,
      );
    const value = await this.queries.customerValue(id);
    if (value === null)
      throw new TouchlineException(
        'NOT_FOUND',
        `No customer "${id}": no order recorded for this id.`,
      );
    return value;
  }

  @Get('value/top')
  @ApiOperation({
    summary: 'The most valuable customers by CLV (latest fit) or net revenue; ties broken by key',
  })
  async top(@Query('by') by?: string, @Query('limit') limit?: string) {
    const order = by ?? 'clv';
    if (order !== 'clv' && order !== 'netRevenue')
      throw new TouchlineException('INVALID_REQUEST', 'by must be clv or netRevenue');
    return this.queries.top(order, limitParam(limit, 20, 1_000));
  }

  @Get('value/prospects')
  @ApiOperation({
    summary:
      'Promising prospects: customers with no or one order, not flagged, ranked by engagement across channels fading with time since last seen (docs/customer-value.md)',
  })
  @ApiQuery({ name: 'stage', required: false, description: 'lead (no order) or first-order' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiResponse({ status: 400, description: 'A malformed parameter, named' })
  async prospects(@Query() query: QueryParams) {
    onlyParamsOrThrow(query, ['stage', 'limit', 'cursor']);
    const stage = singleParam(query, 'stage') ?? null;
    if (stage !== null && stage !== 'lead' && stage !== 'first-order')
      throw new TouchlineException('INVALID_REQUEST', 'stage must be lead or first-order');
    const limit = limitParam(singleParam(query, 'limit'), 50, 500);
    const after = decodePageCursorOrThrow(singleParam(query, 'cursor'));
    // A prospects cursor carries the ranking time as its second key.
    if (after !== null && Number.isNaN(new Date(after.keys[1]).getTime()))
      throw new TouchlineException(
        'INVALID_REQUEST',
        'cursor is malformed: pass the nextCursor of the previous page',
      );
    return this.questions.prospects(stage, limit, after);
  }

  @Get('value/risks')
  @ApiOperation({
    summary:
      'The most valuable customers at risk of leaving: churn flags ranked by value at risk = CLV (or net revenue) × risk',
  })
  @ApiQuery({ name: 'by', required: false, description: 'clv (default) or netRevenue' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiResponse({ status: 400, description: 'A malformed parameter, named' })
  async risks(@Query() query: QueryParams) {
    onlyParamsOrThrow(query, ['by', 'limit', 'cursor']);
    const by = singleParam(query, 'by') ?? 'clv';
    if (by !== 'clv' && by !== 'netRevenue')
      throw new TouchlineException('INVALID_REQUEST', 'by must be clv or netRevenue');
    const limit = limitParam(singleParam(query, 'limit'), 50, 500);
    const after = decodePageCursorOrThrow(singleParam(query, 'cursor'));
    return { by, ...(await this.questions.risks(by, limit, after)) };
  }
}
