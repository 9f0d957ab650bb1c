import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Hard cap on any request body; the collector's own limits (500 KB a batch) sit below it. */
export const HARD_BODY_LIMIT_BYTES = 2 * 1024 * 1024;

export const MAX_NESTING_DEPTH = 64;

/**
 * What makes parsed JSON unfit to store, or null. Deep nesting is never a real event and makes
 * recursive code (and jsonb) overflow; PostgreSQL text and jsonb cannot hold the NUL character,
 * and one such event would block its partition on every redelivery. Iterative: a recursive walk
 * would overflow on exactly the input it guards against.
 */
export function jsonProblem(value: unknown, maxDepth: number): string | null {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current === 'string') {
      const problem = unstorableText(current);
      if (problem !== null) return problem;
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= maxDepth) return `the JSON is nested deeper than ${maxDepth} levels`;
    for (const [key, child] of Object.entries(current)) {
      const problem = unstorableText(key);
      if (problem !== null) return problem;
      stack.push({ value: child, depth: depth + 1 });
    }
  }
  return null;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** PostgreSQL text and jsonb refuse NUL and lone UTF-16 surrogates (not valid Unicode). */
function unstorableText(text: string): string | null {
  if (text.includes('\u0000'))
    return 'the JSON contains the NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(text))
    return 'the JSON contains a lone UTF-16 surrogate (\\uD800-\\uDFFF), which is not valid Unicode';
  return null;
}

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
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        const problem = jsonProblem(parsed, MAX_NESTING_DEPTH);
        if (problem !== null) {
          done(null, new MalformedJsonBody(body, problem));
          return;
        }
        done(null, parsed);
      } catch (error) {
        done(
          null,
          new MalformedJsonBody(body, error instanceof Error ? error.message : 'not JSON'),
        );
      }
    },
  );
}
