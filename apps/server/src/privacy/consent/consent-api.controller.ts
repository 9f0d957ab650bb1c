import { randomUUID } from 'node:crypto';
import { Body, Controller, HttpCode, Inject, Module, Post, Req } from '@nestjs/common';
import {
  ApiBasicAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { OutboundMessage } from '@touchline/messaging';
import { ApiKeyStore } from '../../auth/api-keys';
import { MalformedJsonBody, type RequestWithRawBody } from '../../collector/raw-body';
import { writeKeyOf } from '../../collector/write-key';
import { TouchlineException } from '../../common/touchline.exception';
import { deadLetterMessage, newDeadLetter } from '../../dead-letters/dead-letter';
import { envelopeMessage } from '../../ingest/envelope-message';
import type { Runtime } from '../../platform/runtime';
import { RUNTIME } from '../../platform/tokens';
import { CONSENT_PURPOSES, CONSENT_SOURCES } from './consent-statement';
import { ConsentBodyError, consentStatementsFromBody, MAX_CONSENT_BATCH } from './consent-api';

const ENDPOINT = '/v1/consent';

export interface ConsentApiOutcome {
  readonly accepted: number;
  readonly rejected: number;
  readonly results: ReadonlyArray<{
    index: number;
    eventId: string | null;
    status: 'accepted' | 'rejected';
    errors?: readonly { path: string; rule: string; message: string }[];
  }>;
}

const statementSchema = {
  type: 'object',
  required: ['purpose', 'granted', 'source'],
  description:
    'Names the customer by at least one of email, phone, externalId, userId, anonymousId.',
  properties: {
    purpose: { type: 'string', enum: [...CONSENT_PURPOSES] },
    granted: { type: 'boolean' },
    source: { type: 'string', enum: [...CONSENT_SOURCES] },
    email: { type: 'string', description: 'normalized (trimmed, lowercased)' },
    phone: { type: 'string', description: 'E.164 (+ and country code)' },
    externalId: { type: 'string', description: "the sender's id of the customer (CRM id)" },
    userId: { type: 'string' },
    anonymousId: { type: 'string' },
    note: { type: 'string', maxLength: 1000, description: 'free text; personal data' },
    occurredAt: { type: 'string', format: 'date-time', description: 'default: now' },
    messageId: { type: 'string', description: 'the same id sent again is the same statement' },
  },
};

/**
 * `POST /v1/consent`: consent statements from a server sender (call centre, import, admin tool)
 * with its source's write key, as the touchpoint APIs take it. Each valid statement is published
 * as a ConsentChanged envelope on the source's channel topic, like any touchpoint event, so the
 * recorder stores it and the consent history and the profile pick it up; each invalid one is
 * kept as a dead letter. Collector role.
 */
@ApiTags('consent')
@ApiBasicAuth('writeKey')
@Controller('v1')
export class ConsentApiController {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
  ) {}

  @Post('consent')
  @HttpCode(200)
  @ApiOperation({
    summary: 'State consent for a customer named by email, phone, external id or user id',
    description:
      'For senders that are not a browser (a browser sends a ConsentChanged track). Write key of a server source (email, phone or other channel) as the HTTP Basic user name. The body is one statement or {"batch": [statement, ...]} (at most 1000). Invalid statements are kept as dead letters; errors name the field (batch[2].purpose).',
  })
  @ApiBody({
    schema: {
      oneOf: [
        statementSchema,
        {
          type: 'object',
          required: ['batch'],
          properties: {
            batch: { type: 'array', maxItems: MAX_CONSENT_BATCH, items: statementSchema },
          },
        },
      ],
    },
  })
  @ApiOkResponse({ description: 'accepted and rejected counts, a result per statement' })
  @ApiResponse({ status: 400, description: 'no statement accepted; errors name each field' })
  @ApiResponse({ status: 401, description: 'no valid write key' })
  @ApiResponse({ status: 403, description: 'the write key of a web source' })
  async state(
    @Req() request: RequestWithRawBody,
    @Body() body: unknown,
  ): Promise<ConsentApiOutcome> {
    const principal = await this.keys.resolve(writeKeyOf(request, body) ?? '');
    if (!principal || principal.role !== 'ingestion' || principal.sourceId === null) {
      throw new TouchlineException(
        'UNAUTHORIZED',
        'A valid write key is required: send it as the HTTP Basic user name.',
      );
    }
    // A web write key is public (it ships in the page): a browser states consent for its own
    // visitor with a ConsentChanged track, never for an email or phone it names.
    if (principal.channel === null || principal.channel === 'web') {
      throw new TouchlineException(
        'FORBIDDEN',
        'This endpoint needs the write key of a server source (email, phone or other channel); a browser sends a ConsentChanged track.',
      );
    }
    if (body instanceof MalformedJsonBody) {
      throw new TouchlineException('INVALID_JSON', `The body is not valid JSON: ${body.problem}`);
    }
    const receivedAt = new Date();
    const sourceId = principal.sourceId;
    let parsed: ReturnType<typeof consentStatementsFromBody>;
    try {
      parsed = consentStatementsFromBody(body, { sourceId, receivedAt });
    } catch (error) {
      if (error instanceof ConsentBodyError) {
        throw new TouchlineException('INVALID_REQUEST', error.message);
      }
      throw error;
    }
    const correlationId = randomUUID();
    const outbound: OutboundMessage[] = parsed.events.map((event) =>
      envelopeMessage(this.runtime.topics, {
        eventId: event.eventId,
        type: 'ConsentChanged',
        schemaVersion: 1,
        channel: principal.channel!,
        streamId: event.streamId,
        occurredAt: event.occurredAt,
        receivedAt,
        sourceId,
        correlationId,
        data: event.data,
      }),
    );
    for (const rejection of parsed.rejected) {
      outbound.push(
        deadLetterMessage(
          this.runtime.topics,
          newDeadLetter({
            receivedAt,
            sourceId,
            endpoint: ENDPOINT,
            reasonCode: 'INVALID_EVENT',
            reason: rejection.errors.map((e) => `${e.path}: ${e.message}`).join('; '),
            details: { errors: rejection.errors },
            raw: JSON.stringify(rejection.raw) ?? 'null',
          }),
        ),
      );
    }
    if (outbound.length > 0) await this.runtime.transport.publisher().publish(outbound);

    const results: Array<ConsentApiOutcome['results'][number]> = [];
    let next = 0;
    const rejectedAt = new Map(parsed.rejected.map((r) => [r.index, r]));
    const total = parsed.events.length + parsed.rejected.length;
    for (let index = 0; index < total; index += 1) {
      const rejection = rejectedAt.get(index);
      if (rejection) {
        results.push({ index, eventId: null, status: 'rejected', errors: rejection.errors });
      } else {
        results.push({ index, eventId: parsed.events[next++]!.eventId, status: 'accepted' });
      }
    }
    const outcome = { accepted: parsed.events.length, rejected: parsed.rejected.length, results };
    if (outcome.accepted === 0) {
      throw new TouchlineException('INVALID_EVENT', 'No statement was accepted', outcome);
    }
    return outcome;
  }
}

/** The consent API: collector role (it publishes to the ingest topics). */
@Module({ controllers: [ConsentApiController] })
export class ConsentApiModule {}
