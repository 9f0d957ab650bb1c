import { Body, Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBasicAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { type ApiKeyPrincipal, ApiKeyStore } from '../auth/api-keys';
import { TouchlineException } from '../common/touchline.exception';
import { IngestMessagesCommand } from './ingest-messages.command';
import { RejectBodyCommand } from './reject-body.command';
import { MalformedJsonBody, type RequestWithRawBody } from './raw-body';
import { isJsonObject } from './segment/segment-message';
import { MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, type ItemResult } from './collector.service';
import { writeKeyOf } from './write-key';
import { RateLimiter } from './rate-limiter';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';

export interface IngestResponse {
  readonly success: boolean;
  readonly accepted: number;
  readonly rejected: number;
  readonly results: readonly ItemResult[];
}

/** Segment's HTTP Tracking API. A 200 means every accepted event is durably stored or queued. */
@ApiTags('collector')
@ApiBasicAuth('writeKey')
@Controller('v1')
export class CollectorController {
  constructor(
    private readonly commands: CommandBus,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
    private readonly rateLimiter: RateLimiter,
    @Inject(RUNTIME) private readonly runtime: Runtime,
  ) {}

  @Post('track')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record a track call (Segment HTTP Tracking API)' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['event'],
      example: { userId: 'u-42', event: 'Signed Up', properties: { plan: 'pro' } },
    },
  })
  @ApiResponse({ status: 200, description: 'Stored' })
  @ApiResponse({
    status: 400,
    description: 'Malformed JSON or an invalid event, with the field and rule',
  })
  @ApiResponse({ status: 401, description: 'Missing or unknown write key' })
  @ApiResponse({
    status: 503,
    description: 'Broker or database away; nothing stored; see Retry-After',
  })
  async track(@Req() request: RequestWithRawBody, @Body() body: unknown): Promise<IngestResponse> {
    return this.ingest(request, body, '/v1/track', (object) => ({
      messages: [object],
      impliedType: 'track',
      defaults: {},
    }));
  }

  @Post('page')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record a page view (Segment HTTP Tracking API)' })
  @ApiBody({
    schema: {
      type: 'object',
      example: {
        anonymousId: 'a-1',
        name: 'Pricing',
        properties: { url: 'https://example.com/pricing' },
      },
    },
  })
  @ApiResponse({ status: 200, description: 'Stored' })
  async page(@Req() request: RequestWithRawBody, @Body() body: unknown): Promise<IngestResponse> {
    return this.ingest(request, body, '/v1/page', (object) => ({
      messages: [object],
      impliedType: 'page',
      defaults: {},
    }));
  }

  @Post('identify')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record who a user is and their traits (Segment HTTP Tracking API)' })
  @ApiBody({
    schema: {
      type: 'object',
      example: { userId: 'u-42', anonymousId: 'a-1', traits: { plan: 'pro' } },
    },
  })
  @ApiResponse({ status: 200, description: 'Stored' })
  async identify(
    @Req() request: RequestWithRawBody,
    @Body() body: unknown,
  ): Promise<IngestResponse> {
    return this.ingest(request, body, '/v1/identify', (object) => ({
      messages: [object],
      impliedType: 'identify',
      defaults: {},
    }));
  }

  @Post('screen')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record a screen view of an app (Segment HTTP Tracking API)' })
  @ApiResponse({ status: 200, description: 'Stored' })
  async screen(@Req() request: RequestWithRawBody, @Body() body: unknown): Promise<IngestResponse> {
    return this.ingest(request, body, '/v1/screen', (object) => ({
      messages: [object],
      impliedType: 'screen',
      defaults: {},
    }));
  }

  @Post('group')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record that a user belongs to a group (Segment HTTP Tracking API)' })
  @ApiResponse({ status: 200, description: 'Stored' })
  async group(@Req() request: RequestWithRawBody, @Body() body: unknown): Promise<IngestResponse> {
    return this.ingest(request, body, '/v1/group', (object) => ({
      messages: [object],
      impliedType: 'group',
      defaults: {},
    }));
  }

  @Post('alias')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Record that previousId and userId are the same user (Segment HTTP Tracking API)',
  })
  @ApiResponse({ status: 200, description: 'Stored' })
  async alias(@Req() request: RequestWithRawBody, @Body() body: unknown): Promise<IngestResponse> {
    return this.ingest(request, body, '/v1/alias', (object) => ({
      messages: [object],
      impliedType: 'alias',
      defaults: {},
    }));
  }

  @Post('batch')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record up to 500 KB of calls at once; answers per message' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['batch'],
      example: { batch: [{ type: 'track', userId: 'u-42', event: 'Signed Up' }] },
    },
  })
  @ApiResponse({ status: 200, description: 'At least one message accepted; per-message results' })
  @ApiResponse({
    status: 400,
    description: 'Nothing accepted; per-message results name each problem',
  })
  @ApiResponse({ status: 413, description: 'Batch over 500 KB' })
  async batch(@Req() request: RequestWithRawBody, @Body() body: unknown): Promise<IngestResponse> {
    return this.ingest(request, body, '/v1/batch', (object) => {
      const batch = object['batch'];
      if (!Array.isArray(batch)) {
        throw new TouchlineException('INVALID_REQUEST', 'batch must be an array of messages');
      }
      if (batch.length > MAX_BATCH_MESSAGES) {
        throw new TouchlineException(
          'PAYLOAD_TOO_LARGE',
          `a batch holds at most ${MAX_BATCH_MESSAGES} messages`,
        );
      }
      return {
        messages: batch,
        impliedType: null,
        defaults: {
          context: object['context'],
          integrations: object['integrations'],
          sentAt: object['sentAt'],
        },
      };
    });
  }

  /** 429 with Retry-After when the source sends faster than its limit; Segment clients retry. */
  private enforceRateLimit(source: ApiKeyPrincipal, body: unknown): void {
    const limit = source.rateLimitPerSecond ?? this.runtime.config.rateLimitEventsPerSecond;
    const waitSeconds = this.rateLimiter.take(source.keyId, messageCount(body), limit);
    if (waitSeconds > 0) {
      throw new TouchlineException(
        'RATE_LIMITED',
        `This source may send ${limit} events a second; retry after ${waitSeconds} s.`,
        undefined,
        waitSeconds,
      );
    }
  }

  private async ingest(
    request: RequestWithRawBody,
    body: unknown,
    endpoint: string,
    unpack: (
      body: Record<string, unknown>,
    ) => Pick<IngestMessagesCommand['request'], 'messages' | 'impliedType' | 'defaults'>,
  ): Promise<IngestResponse> {
    const receivedAt = new Date();
    const principal = await this.keys.resolve(writeKeyOf(request, body) ?? '');
    if (!principal || principal.role !== 'ingestion' || principal.sourceId === null) {
      throw new TouchlineException(
        'UNAUTHORIZED',
        'A valid write key is required: send it as the HTTP Basic user name, or as "writeKey" in the body.',
      );
    }
    const source = { ...principal, sourceId: principal.sourceId };
    this.enforceRateLimit(source, body);
    const correlationId = correlationIdOf(request);
    const raw = request.rawBody ?? Buffer.alloc(0);
    const reject = async (
      code: 'INVALID_JSON' | 'INVALID_REQUEST' | 'PAYLOAD_TOO_LARGE',
      message: string,
    ): Promise<never> => {
      await this.commands.execute(
        new RejectBodyCommand({
          sourceId: source.sourceId,
          endpoint,
          receivedAt,
          reasonCode: code,
          reason: message,
          raw,
        }),
      );
      throw new TouchlineException(code, message);
    };
    if (body instanceof MalformedJsonBody)
      return reject('INVALID_JSON', `The body is not valid JSON: ${body.problem}`);
    if (raw.length > MAX_BATCH_BYTES)
      return reject(
        'PAYLOAD_TOO_LARGE',
        `The body must be at most ${MAX_BATCH_BYTES} bytes (got ${raw.length})`,
      );
    if (!isJsonObject(body)) return reject('INVALID_REQUEST', 'The body must be a JSON object');
    let unpacked;
    try {
      unpacked = unpack(body);
    } catch (error) {
      if (
        error instanceof TouchlineException &&
        (error.code === 'INVALID_REQUEST' || error.code === 'PAYLOAD_TOO_LARGE')
      ) {
        return reject(error.code, error.message);
      }
      throw error;
    }
    const results = await this.commands.execute<IngestMessagesCommand, ItemResult[]>(
      new IngestMessagesCommand({
        principal: source,
        endpoint,
        receivedAt,
        correlationId,
        ...unpacked,
      }),
    );
    const accepted = results.filter((r) => r.status === 'accepted').length;
    const response: IngestResponse = {
      success: accepted > 0,
      accepted,
      rejected: results.length - accepted,
      results,
    };
    if (accepted === 0 && results.length > 0) {
      const first = results[0]?.errors?.[0];
      const summary = first ? `${first.field}: ${first.message}` : 'invalid';
      throw new TouchlineException(
        'INVALID_EVENT',
        `No message was accepted (first problem: ${summary})`,
        response,
      );
    }
    return response;
  }
}

function messageCount(body: unknown): number {
  if (isJsonObject(body) && Array.isArray(body['batch'])) return Math.max(1, body['batch'].length);
  return 1;
}

function correlationIdOf(request: RequestWithRawBody): string {
  const header = request.headers['x-correlation-id'];
  return typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
}
