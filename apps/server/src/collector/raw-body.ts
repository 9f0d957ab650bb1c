import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Hard cap on any request body; the collector's own limits (500 KB a batch) sit below it. */
export const HARD_BODY_LIMIT_BYTES = 2 * 1024 * 1024;

/** A body that is not valid JSON: kept raw so it can go to the dead-letter store. */
export class MalformedJsonBody {
  constructor(
    readonly raw: Buffer,
    readonly problem: string,
  ) {}
}

/** Twilio posts forms; its signature covers the parameters, so the raw body is kept as is. */
export class FormBody {
  constructor(readonly raw: Buffer) {}
}

export interface RequestWithRawBody extends FastifyRequest {
  rawBody?: Buffer;
}

/**
 * Parse JSON ourselves so a malformed body reaches the handler (to be dead-lettered with its raw
 * bytes) instead of failing inside the framework. text/plain is accepted too: browsers send
 * beacons with it, because a JSON content type would need a CORS preflight.
 */
export function registerRawJsonParser(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer', bodyLimit: HARD_BODY_LIMIT_BYTES },
    (
      request: RequestWithRawBody,
      body: Buffer,
      done: (err: Error | null, body?: unknown) => void,
    ) => {
      request.rawBody = body;
      done(null, new FormBody(body));
    },
  );
  fastify.addContentTypeParser(
    ['application/json', 'text/plain'],
    { parseAs: 'buffer', bodyLimit: HARD_BODY_LIMIT_BYTES },
    (
      request: RequestWithRawBody,
      body: Buffer,
      done: (err: Error | null, body?: unknown) => void,
    ) => {
      request.rawBody = body;
      if (body.length === 0) {
        done(null, new MalformedJsonBody(body, 'the body is empty'));
        return;
      }
      try {
        done(null, JSON.parse(body.toString('utf8')));
      } catch (error) {
        done(
          null,
          new MalformedJsonBody(body, error instanceof Error ? error.message : 'not JSON'),
        );
      }
    },
  );
}
