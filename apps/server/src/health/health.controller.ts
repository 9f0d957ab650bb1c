import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';

/** Public, no key: orchestrators probe these. They reveal nothing but up/down. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(@Inject(RUNTIME) private readonly runtime: Runtime) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is running' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'The database and the broker answer; 503 otherwise' })
  async ready(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ status: string; database: boolean; transport: boolean }> {
    const [database, transport] = await Promise.all([
      this.runtime.pool.query('SELECT 1').then(
        () => true,
        () => false,
      ),
      this.runtime.transport.isHealthy().catch(() => false),
    ]);
    const ok = database && transport;
    if (!ok) void reply.status(503).header('Retry-After', '5');
    return { status: ok ? 'ok' : 'unavailable', database, transport };
  }
}
