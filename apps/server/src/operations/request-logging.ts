import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { httpRequests } from '../metrics/metrics';

const CORRELATION_ID = /^[\w.:-]{1,128}$/;
const QUIET_ROUTES = new Set(['/metrics', '/health/live', '/health/ready']);

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's correlation id: the caller's x-correlation-id when valid, else a new one. */
    correlationId: string;
    /** A logger that stamps every line with the correlation id. */
    logger: Logger;
  }
}

/**
 * One JSON log line per request, carrying its correlation id, which is echoed back in the
 * `x-correlation-id` response header. The line names the route pattern (`/v1/customers/:id`),
 * never the URL: paths and query strings can carry customer identifiers.
 */
export function registerRequestLogging(app: FastifyInstance, logger: Logger): void {
  const base = logger.child({ component: 'http' });
  app.decorateRequest('correlationId', '');
  // Null, not a shared object: Fastify refuses reference-type defaults on requests.
  app.decorateRequest('logger', null as unknown as Logger);
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const given = request.headers['x-correlation-id'];
    const id = typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
    // Handlers that read the header (the collector stamps it on every event) see the same id.
    request.headers['x-correlation-id'] = id;
    request.correlationId = id;
    request.logger = base.child({ correlationId: id });
    void reply.header('x-correlation-id', id);
    done();
  });
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    const status = reply.statusCode;
    httpRequests.inc({ method: request.method, route, status: String(status) });
    const fields = {
      method: request.method,
      route,
      status,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (QUIET_ROUTES.has(route)) request.logger.debug(fields, 'request');
    else if (status >= 500) request.logger.error(fields, 'request');
    else request.logger.info(fields, 'request');
    done();
  });
}
