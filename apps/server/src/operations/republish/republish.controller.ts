import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Req,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { isJsonObject } from '@touchline/contracts';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../../auth/api-key.guard';
import { AuditLog } from '../../auth/audit-log';
import type { RepublishJobView } from './republish-job-store';
import { republishRequestOrThrow } from './republish-request';
import { RepublishError, RepublishErrorFilter } from './republish.exception';
import { Republisher } from './republisher';

/** Republish of the stored history to a Kafka topic on the admin API. Every change audited. */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/republish')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
@UseFilters(RepublishErrorFilter)
export class RepublishController {
  constructor(
    @Inject(Republisher) private readonly republisher: Republisher,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The latest republish jobs with their progress' })
  async list(): Promise<{ items: RepublishJobView[] }> {
    return { items: await this.republisher.list() };
  }

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Start streaming the stored history to a Kafka topic in the background (body: {topic, from?, to?, eventTypes?, rateLimit?, name?}; {name, resume: true} continues a job from its checkpoint)',
  })
  start(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<{ job: RepublishJobView }> {
    const resume = isJsonObject(body) && body['resume'] === true;
    return this.audited(
      request,
      resume ? 'republish.resume' : 'republish.start',
      targetOf(body),
      async () => {
        const job = await this.republisher.start(
          republishRequestOrThrow(body),
          request.principal?.keyId ?? null,
        );
        return { job };
      },
    );
  }

  @Get(':name')
  @ApiOperation({ summary: 'One job: events published, target, events/s, ETA, status' })
  async get(@Param('name') name: string): Promise<{ job: RepublishJobView }> {
    return { job: await this.republisher.get(name) };
  }

  @Delete(':name')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel the running job after the send in flight' })
  cancel(
    @Req() request: AuthenticatedRequest,
    @Param('name') name: string,
  ): Promise<{ job: RepublishJobView }> {
    return this.audited(request, 'republish.cancel', name, async () => ({
      job: await this.republisher.cancel(name),
    }));
  }

  private async audited(
    request: AuthenticatedRequest,
    action: string,
    target: string,
    work: () => Promise<{ job: RepublishJobView }>,
  ): Promise<{ job: RepublishJobView }> {
    const entry = {
      actorKeyId: request.principal?.keyId ?? null,
      action,
      target: target.slice(0, 100),
    };
    try {
      const answer = await work();
      const { topic, status, runs, fromPosition, toPosition, targetEvents } = answer.job;
      await this.audit.record({
        ...entry,
        outcome: 'done',
        details: { topic, status, runs, fromPosition, toPosition, targetEvents },
      });
      return answer;
    } catch (error) {
      if (error instanceof RepublishError) {
        await this.audit.record({
          ...entry,
          outcome: error.auditOutcome,
          details: { reason: error.code },
        });
      }
      throw error;
    }
  }
}

/** The job a request is about, for the audit log, before the body is validated. */
function targetOf(body: unknown): string {
  if (!isJsonObject(body)) return '';
  const name = body['name'] ?? body['topic'];
  return typeof name === 'string' ? name : '';
}
