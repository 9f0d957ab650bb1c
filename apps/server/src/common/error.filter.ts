import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Inject,
} from '@nestjs/common';
import { EventStoreUnavailableError } from '@touchline/event-store';
import { TransportUnavailableError } from '@touchline/messaging';
import { isConnectionError } from '@touchline/platform';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { LOGGER } from './logger';
import { type ErrorCode, serviceUnavailable, TouchlineException } from './touchline.exception';

function isDatabaseUnavailable(error: unknown): boolean {
  return error instanceof EventStoreUnavailableError || isConnectionError(error);
}

const HTTP_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** One place that turns any error into `{ error: { code, message } }` with the right status. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const error = this.toTouchlineException(exception);
    if (error.status >= 500 && error.code !== 'SERVICE_UNAVAILABLE') {
      this.logger.error({ err: exception }, 'unhandled error');
    }
    if (error.retryAfterSeconds !== undefined) {
      void reply.header('Retry-After', String(error.retryAfterSeconds));
    }
    void reply.status(error.status).send(error.toBody());
  }

  private toTouchlineException(exception: unknown): TouchlineException {
    if (exception instanceof TouchlineException) return exception;
    if (isDatabaseUnavailable(exception)) return serviceUnavailable('The database');
    // In-process, the transport's error carries the recorder's (database) error as its cause.
    if (exception instanceof TransportUnavailableError) {
      return serviceUnavailable(
        isDatabaseUnavailable(exception.cause) ? 'The database' : 'The message broker',
      );
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = HTTP_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST');
      return new TouchlineException(code, exception.message);
    }
    // Fastify's own errors (body too large, bad content type) carry a statusCode.
    const statusCode = (exception as { statusCode?: unknown } | null)?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      const code = HTTP_CODES[statusCode] ?? 'INVALID_REQUEST';
      return new TouchlineException(code, (exception as Error).message);
    }
    return new TouchlineException('INTERNAL', 'Internal error; it has been logged.');
  }
}
