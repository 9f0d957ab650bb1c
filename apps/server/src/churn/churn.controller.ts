import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { limitParam, uuidParam } from '../admin/request-parsing';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { AuditLog } from '../auth/audit-log';
import { TouchlineException } from '../common/touchline.exception';
import { type ChurnEvaluationDto, ChurnEvaluator } from './churn-evaluator';
import { ChurnQueries } from './churn-queries';
import {
  parseEvaluateRequest,
  parseFlagFilter,
  type QueryParams,
  rejectUnknownParams,
  single,
} from './churn-requests';
import type { ChurnSettings } from './churn-settings';
import { CHURN_CLOCK, CHURN_SETTINGS } from './churn.tokens';

/** Evaluating churn flags on demand: admin keys only, audited. */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/churn')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class ChurnAdminController {
  constructor(
    private readonly evaluator: ChurnEvaluator,
    private readonly audit: AuditLog,
    @Inject(CHURN_SETTINGS) private readonly settings: ChurnSettings,
    @Inject(CHURN_CLOCK) private readonly clock: () => Date,
  ) {}

  @Post('evaluate')
  @ApiOperation({
    summary:
      'Evaluate every customer as of a time ({ asOf?, config?, wait? }): raise and clear churn flags with reasons',
    description:
      'asOf: a date (the end of that UTC day) or an ISO-8601 date-time; default now. config: overrides of the server settings, e.g. { "overdue-contact": { "multiplier": 4 } }. wait (default true): answer 200 with the finished evaluation; false: 202 with the running one, to follow at GET /v1/churn/evaluations/{id}.',
  })
  @ApiResponse({
    status: 200,
    description: 'The finished evaluation: counts, model used, settings',
  })
  @ApiResponse({ status: 202, description: 'Started (wait: false)' })
  @ApiResponse({ status: 400, description: 'A malformed field or setting, named' })
  @ApiResponse({
    status: 409,
    description: 'Another evaluation is running, or asOf is before the latest evaluation',
  })
  @HttpCode(200)
  async evaluate(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChurnEvaluationDto> {
    const parsed = parseEvaluateRequest(body, this.settings.config);
    const actorKeyId = request.principal?.keyId ?? null;
    const asOf = parsed.asOf ?? this.clock();
    let started;
    try {
      started = await this.evaluator.start({
        asOf,
        config: parsed.config,
        trigger: 'api',
        requestedBy: actorKeyId,
      });
    } catch (error) {
      if (error instanceof TouchlineException && error.code === 'CONFLICT') {
        await this.audit.record({
          actorKeyId,
          action: 'churn.evaluate',
          outcome: 'refused',
          details: { asOf: asOf.toISOString(), reason: error.message },
        });
      }
      throw error;
    }
    await this.audit.record({
      actorKeyId,
      action: 'churn.evaluate',
      target: started.evaluation.id,
      outcome: 'done',
      details: { asOf: asOf.toISOString(), model: started.evaluation.model.status },
    });
    if (!parsed.wait) {
      void reply.status(202);
      return started.evaluation;
    }
    return started.done;
  }
}

const MAX_HISTORY = 500;

/** Who is likely to leave, and why: analyst keys. */
@ApiTags('churn')
@ApiBearerAuth('apiKey')
@Controller('v1/churn')
@UseGuards(ApiKeyGuard)
@RequireRole('analyst')
export class ChurnController {
  constructor(private readonly queries: ChurnQueries) {}

  @Get('flags')
  @ApiOperation({
    summary:
      'Customers flagged as likely to leave, with reasons: most at risk first (or longest flagged), paged by cursor',
  })
  @ApiQuery({
    name: 'reason',
    required: false,
    description: 'reason codes, comma list or repeated: flags holding any of them',
  })
  @ApiQuery({ name: 'sort', required: false, enum: ['risk', 'since'] })
  @ApiQuery({
    name: 'order',
    required: false,
    enum: ['asc', 'desc'],
    description: 'default desc for risk, asc for since',
  })
  @ApiQuery({ name: 'limit', required: false, description: '1..500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiResponse({ status: 400, description: 'An unknown or malformed parameter, named' })
  async flags(@Query() query: QueryParams) {
    return this.queries.flags(parseFlagFilter(query));
  }

  @Get('flags/:customerId')
  @ApiOperation({
    summary:
      "A customer's current churn flag with its reasons, and the history of flags raised and cleared",
  })
  @ApiParam({ name: 'customerId', description: 'The unified customer id (a UUID)' })
  @ApiQuery({ name: 'historyLimit', required: false, description: '1..500, default 500 latest' })
  @ApiResponse({ status: 400, description: 'customerId is not a UUID, or a bad parameter' })
  @ApiResponse({ status: 404, description: 'No customer with this id' })
  async customer(@Param('customerId') customerId: string, @Query() query: QueryParams) {
    rejectUnknownParams(query, ['historyLimit']);
    const limitText = single(query, 'historyLimit');
    let historyLimit = MAX_HISTORY;
    if (limitText !== undefined) {
      try {
        historyLimit = limitParam(limitText, MAX_HISTORY, MAX_HISTORY);
      } catch {
        throw new TouchlineException(
          'INVALID_REQUEST',
          `historyLimit must be an integer from 1 to ${MAX_HISTORY}`,
        );
      }
    }
    return this.queries.customerOrThrow(uuidParam('customerId', customerId), historyLimit);
  }

  @Get('evaluations')
  @ApiOperation({ summary: 'The latest churn evaluations: as-of time, progress, outcome, model' })
  @ApiQuery({ name: 'limit', required: false, description: '1..100, default 20' })
  async evaluations(@Query() query: QueryParams) {
    rejectUnknownParams(query, ['limit']);
    return { items: await this.queries.evaluations(limitParam(single(query, 'limit'), 20, 100)) };
  }

  @Get('evaluations/:id')
  @ApiOperation({ summary: 'One churn evaluation, with its progress while it runs' })
  @ApiResponse({ status: 404, description: 'No evaluation with this id' })
  async evaluation(@Param('id') id: string): Promise<ChurnEvaluationDto> {
    return this.queries.evaluationOrThrow(uuidParam('id', id));
  }
}
