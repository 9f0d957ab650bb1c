import type { LoggerService } from '@nestjs/common';
import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Paths that can carry secrets or personal data are redacted at the
 * source; callers log identifiers and counts, never payloads.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'touchline' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.password',
        '*.writeKey',
        '*.apiKey',
        'databaseUrl',
        // A failed query's error carries its SQL and bound values: they can be personal data.
        'err.parameters',
        'err.query',
        'err.detail',
        'err.where',
        'err.driverError.parameters',
        'err.driverError.detail',
        'err.driverError.where',
        'err.cause.detail',
      ],
      censor: '[redacted]',
    },
  });
}

/** Nest's logger interface on top of pino, so framework messages are JSON too. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  // Nest's "log" level is start-up chatter (every route mapped): debug for us.
  log(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}

export const LOGGER = Symbol('LOGGER');
