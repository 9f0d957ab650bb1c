import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TouchlineException } from '../common/touchline.exception';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { decideMetricsAccess, type MetricsAccess } from './metrics-access';
import { metricsRegistry } from './metrics';

export const METRICS_ACCESS = Symbol('METRICS_ACCESS');

/** Prometheus text exposition, on every role's main port (see docs/operations.md for access). */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(METRICS_ACCESS) private readonly access: MetricsAccess,
  ) {}

  @Get()
  @Header('cache-control', 'no-store')
  async metrics(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const decision = decideMetricsAccess(
      this.access,
      this.runtime.config.http.host,
      request.headers.authorization,
    );
    switch (decision) {
      case 'allow':
        // Set here, not by decorator: a refusal below is a JSON error body.
        void reply.header('content-type', metricsRegistry.contentType);
        return metricsRegistry.metrics();
      case 'missing-token':
      case 'wrong-token':
        throw new TouchlineException(
          'UNAUTHORIZED',
          'Metrics need the token from TOUCHLINE_METRICS_TOKEN: send "Authorization: Bearer <token>".',
        );
      case 'not-loopback':
        throw new TouchlineException(
          'FORBIDDEN',
          'This server listens beyond loopback: set TOUCHLINE_METRICS_TOKEN to serve metrics.',
        );
      default: {
        const never: never = decision;
        throw new Error(`unhandled ${String(never)}`);
      }
    }
  }
}
