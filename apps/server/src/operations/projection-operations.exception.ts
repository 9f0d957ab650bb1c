import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

export type ProjectionOperationErrorCode =
  | 'UNKNOWN_PROJECTION'
  | 'REBUILD_RUNNING'
  | 'NO_REBUILD_RUNNING'
  | 'NO_PREVIOUS_VERSION'
  | 'INVALID_RANGE'
  | 'NOT_REBUILDABLE'
  | 'INVALID_REQUEST';

/** Every refusal of a projection operation maps to exactly one status (checked by the compiler). */
const STATUS: Record<ProjectionOperationErrorCode, number> = {
  UNKNOWN_PROJECTION: 404,
  NO_REBUILD_RUNNING: 404,
  NO_PREVIOUS_VERSION: 404,
  REBUILD_RUNNING: 409,
  NOT_REBUILDABLE: 409,
  INVALID_RANGE: 400,
  INVALID_REQUEST: 400,
};

/** A refused projection operation; nothing was changed. */
export class ProjectionOperationError extends Error {
  constructor(
    readonly code: ProjectionOperationErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  get status(): number {
    return STATUS[this.code];
  }
}

/** Answers a refusal in the API's usual `{ error: { code, message, details } }` shape. */
@Catch(ProjectionOperationError)
export class ProjectionOperationErrorFilter implements ExceptionFilter {
  catch(error: ProjectionOperationError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply.status(error.status).send({
      error: {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      },
    });
  }
}
