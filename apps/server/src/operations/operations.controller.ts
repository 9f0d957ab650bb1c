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
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { AuditLog } from '../auth/audit-log';
import { isJsonObject } from '../collector/segment/segment-message';
import { parseInstant } from '../common/instant';
import {
  ProjectionOperationError,
  ProjectionOperationErrorFilter,
} from './projection-operations.exception';
import type { RebuildProgress } from './projection-rebuilder';
import { ProjectionOperations, type ProjectionView } from './projection-operations';

/** Projection operations on the admin API: list, inspect, rebuild, cancel, roll back. Every change audited. */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/projections')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
@UseFilters(ProjectionOperationErrorFilter)
export class OperationsController {
  constructor(
    @Inject(ProjectionOperations) private readonly operations: ProjectionOperations,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Every projection: version, checkpoint, head, lag, status' })
  async list(): Promise<{ items: ProjectionView[] }> {
    return { items: await this.operations.list() };
  }

  @Get(':name')
  @ApiOperation({ summary: 'One projection, with its latest rebuild and its progress' })
  get(@Param('name') name: string): Promise<ProjectionView> {
    return this.operations.get(name);
  }

  @Post(':name/rebuild')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Rebuild the projection from the log. Body (all optional): {"strategy": "in-place" (default: empty and replay), "blue-green" (build beside the live tables, then switch in one transaction) or "dry-run" (build beside and report the differences)}; in place also {"to": <position>} or {"until": <ISO time, by store time>} to stop early, {"resume": true} to continue from the checkpoint',
  })
  rebuild(
    @Req() request: AuthenticatedRequest,
    @Param('name') name: string,
    @Body() body: unknown,
  ): Promise<{ rebuild: RebuildProgress }> {
    return this.audited(request, 'projection.rebuild', name, async () => {
      const projection = this.operations.catalog.getOrThrow(name);
      const options = rebuildOptionsOrThrow(body);
      const rebuild = await this.operations.rebuilder.start(projection, {
        ...options,
        actorKeyId: request.principal?.keyId ?? null,
      });
      return { result: { rebuild }, details: { rebuildId: rebuild.id, mode: rebuild.mode } };
    });
  }

  @Post(':name/reset')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Empty the projection and its checkpoint; the live projector replays from zero at its own pace (no progress bar: use rebuild for that)',
  })
  reset(
    @Req() request: AuthenticatedRequest,
    @Param('name') name: string,
  ): Promise<{ rebuild: RebuildProgress }> {
    return this.audited(request, 'projection.reset', name, async () => {
      const projection = this.operations.catalog.getOrThrow(name);
      const rebuild = await this.operations.rebuilder.reset(
        projection,
        request.principal?.keyId ?? null,
      );
      return { result: { rebuild }, details: { rebuildId: rebuild.id } };
    });
  }

  @Post(':name/rollback')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Switch back to the version the last blue/green switch replaced; the replaced one is kept in turn',
  })
  rollback(
    @Req() request: AuthenticatedRequest,
    @Param('name') name: string,
  ): Promise<{ rebuild: RebuildProgress }> {
    return this.audited(request, 'projection.rollback', name, async () => {
      const projection = this.operations.catalog.getOrThrow(name);
      const rebuild = await this.operations.rebuilder.rollback(
        projection,
        request.principal?.keyId ?? null,
      );
      return { result: { rebuild }, details: { rebuildId: rebuild.id } };
    });
  }

  @Delete(':name/previous')
  @HttpCode(200)
  @ApiOperation({ summary: 'Drop the version kept for rollback (its tables); no rollback after' })
  dropPrevious(
    @Req() request: AuthenticatedRequest,
    @Param('name') name: string,
  ): Promise<{ dropped: boolean }> {
    return this.audited(request, 'projection.previous.drop', name, async () => {
      const projection = this.operations.catalog.getOrThrow(name);
      const result = await this.operations.rebuilder.dropPrevious(projection);
      return { result, details: result };
    });
  }

  @Delete(':name/rebuild')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel the running rebuild after its current batch' })
  cancel(
    @Req() request: AuthenticatedRequest,
    @Param('name') name: string,
  ): Promise<{ rebuild: RebuildProgress }> {
    return this.audited(request, 'projection.rebuild.cancel', name, async () => {
      const projection = this.operations.catalog.getOrThrow(name);
      const rebuild = await this.operations.rebuilder.cancel(projection.name);
      return { result: { rebuild }, details: { rebuildId: rebuild.id } };
    });
  }

  private async audited<T>(
    request: AuthenticatedRequest,
    action: string,
    target: string,
    work: () => Promise<{ result: T; details: Record<string, unknown> }>,
  ): Promise<T> {
    const actorKeyId = request.principal?.keyId ?? null;
    const safeTarget = target.slice(0, 100);
    try {
      const { result, details } = await work();
      await this.audit.record({ actorKeyId, action, target: safeTarget, outcome: 'done', details });
      return result;
    } catch (error) {
      if (error instanceof ProjectionOperationError) {
        await this.audit.record({
          actorKeyId,
          action,
          target: safeTarget,
          outcome:
            error.code === 'UNKNOWN_PROJECTION' ||
            error.code === 'NO_REBUILD_RUNNING' ||
            error.code === 'NO_PREVIOUS_VERSION'
              ? 'not-found'
              : 'refused',
          details: { reason: error.code },
        });
      }
      throw error;
    }
  }
}

const STRATEGIES = ['in-place', 'blue-green', 'dry-run'] as const;
type Strategy = (typeof STRATEGIES)[number];

function rebuildOptionsOrThrow(body: unknown): {
  to?: bigint;
  until?: Date;
  resume: boolean;
  strategy: Strategy;
} {
  if (body === undefined || body === null) return { resume: false, strategy: 'in-place' };
  if (!isJsonObject(body)) {
    throw new ProjectionOperationError('INVALID_REQUEST', 'The body must be a JSON object');
  }
  const unknown = Object.keys(body).filter(
    (key) => !['to', 'until', 'resume', 'strategy'].includes(key),
  );
  if (unknown.length > 0) {
    throw new ProjectionOperationError(
      'INVALID_REQUEST',
      `Unknown field(s): ${unknown.join(', ').slice(0, 200)}; expected "to", "until", "resume" and/or "strategy"`,
    );
  }
  const { to, until, resume, strategy = 'in-place' } = body;
  if (resume !== undefined && typeof resume !== 'boolean') {
    throw new ProjectionOperationError('INVALID_REQUEST', 'resume must be true or false');
  }
  if (typeof strategy !== 'string' || !(STRATEGIES as readonly string[]).includes(strategy)) {
    throw new ProjectionOperationError(
      'INVALID_REQUEST',
      `strategy must be one of ${STRATEGIES.join(', ')}`,
    );
  }
  const chosen = strategy as Strategy;
  if (until !== undefined && until !== null) {
    // A date-time (a zone-less one is UTC); a date alone does not say which moment of the day.
    const time =
      typeof until === 'string' && /^\d{4}-\d{2}-\d{2}[T ]/i.test(until)
        ? parseInstant(until)
        : null;
    if (time === null) {
      throw new ProjectionOperationError(
        'INVALID_RANGE',
        'until must be an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z (a date alone does not say which moment of the day)',
      );
    }
    if (to !== undefined && to !== null) {
      throw new ProjectionOperationError('INVALID_RANGE', 'Give "to" or "until", not both');
    }
    return { until: time, resume: resume ?? false, strategy: chosen };
  }
  if (to === undefined || to === null) return { resume: resume ?? false, strategy: chosen };
  const text = typeof to === 'number' && Number.isSafeInteger(to) ? String(to) : to;
  if (typeof text !== 'string' || !/^\d{1,19}$/.test(text)) {
    throw new ProjectionOperationError(
      'INVALID_RANGE',
      'to must be a global position: a whole number from 1',
    );
  }
  return { to: BigInt(text), resume: resume ?? false, strategy: chosen };
}
