import { Controller, Get, Inject, Optional, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import type { ProjectorState } from '../projector/projector';
import { ProjectorService } from '../projector/projector.service';

interface ProjectorHealth {
  readonly projection: string;
  readonly state: ProjectorState;
  readonly lastErrorCode: string | null;
}

/** Public, no key: orchestrators probe these. They reveal nothing but up/down. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    // Present only in processes that run the projector role.
    @Optional() @Inject(ProjectorService) private readonly projectors?: ProjectorService,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is running' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary:
      "The database and the broker answer; 503 otherwise. Also this process's projectors (a standby is ready)",
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{
    status: string;
    database: boolean;
    transport: boolean;
    projectors: ProjectorHealth[];
  }> {
    const [database, transport] = await Promise.all([
      this.runtime.pool.query('SELECT 1').then(
        () => true,
        () => false,
      ),
      this.runtime.transport.isHealthy().catch(() => false),
    ]);
    const ok = database && transport;
    if (!ok) void reply.status(503).header('Retry-After', '5');
    // Reported, not judged: a standby or a projector stepping aside for a rebuild is healthy, and
    // a failing one retries by itself while this process still serves its other roles.
    const projectors = (this.projectors?.projectors ?? []).map((projector) => ({
      projection: projector.projection.name,
      state: projector.status.state,
      lastErrorCode: projector.status.lastErrorCode,
    }));
    return { status: ok ? 'ok' : 'unavailable', database, transport, projectors };
  }
}
