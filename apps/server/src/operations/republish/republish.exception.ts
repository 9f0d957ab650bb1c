import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

export type RepublishErrorCode =
  | 'INVALID_REQUEST'
  | 'INVALID_RANGE'
  | 'UNKNOWN_TOPIC'
  | 'UNKNOWN_JOB'
  | 'JOB_RUNNING'
  | 'JOB_EXISTS'
  | 'JOB_COMPLETED'
  | 'NO_JOB_RUNNING'
  | 'KAFKA_REQUIRED'
  | 'KAFKA_UNAVAILABLE';

/** Every refusal of a republish request maps to exactly one status (checked by the compiler). */
const STATUS: Record<RepublishErrorCode, number> = {
  INVALID_REQUEST: 400,
  INVALID_RANGE: 400,
  UNKNOWN_TOPIC: 400,
  UNKNOWN_JOB: 404,
  NO_JOB_RUNNING: 404,
  JOB_RUNNING: 409,
  JOB_EXISTS: 409,
  JOB_COMPLETED: 409,
  KAFKA_REQUIRED: 409,
  KAFKA_UNAVAILABLE: 503,
};

/** A refused republish request; nothing was changed. */
export class RepublishError extends Error {
  constructor(
    readonly code: RepublishErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  get status(): number {
    return STATUS[this.code];
  }

  /** How the audit log records the refusal. */
  get auditOutcome(): 'not-found' | 'refused' {
    return this.status === 404 ? 'not-found' : 'refused';
  }
}

/** Answers a refusal in the API's usual `{ error: { code, message, details } }` shape. */
@Catch(RepublishError)
export class RepublishErrorFilter implements ExceptionFilter {
  catch(error: RepublishError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error.code === 'KAFKA_UNAVAILABLE') void reply.header('retry-after', '5');
    void reply.status(error.status).send({
      error: {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      },
    });
  }
}

export function unknownJobError(name: string): RepublishError {
  return new RepublishError('UNKNOWN_JOB', `There is no republish job named ${name}`, { name });
}

export function jobRunningError(name: string): RepublishError {
  return new RepublishError(
    'JOB_RUNNING',
    `Republish job ${name} is already running; follow it with GET /v1/admin/republish/${name}, or cancel it first`,
    { name },
  );
}

/** A start (not a resume) under a name that is taken. */
export function jobExistsError(name: string, status: string): RepublishError {
  return status === 'running'
    ? jobRunningError(name)
    : new RepublishError(
        'JOB_EXISTS',
        `A republish job named ${name} already exists (${status}); continue it with "resume": true or choose another name`,
        { name, status },
      );
}

export function jobCompletedError(name: string): RepublishError {
  return new RepublishError(
    'JOB_COMPLETED',
    `Republish job ${name} is completed: nothing to resume (start a new job with another name)`,
    { name },
  );
}
