import { Body, Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiBasicAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Channel } from '@touchline/contracts';
import {
  type CountryCode,
  mapContactCentreEvents,
  mapOtherContacts,
  type MappingResult,
} from '@touchline/touchpoints';
import { randomUUID } from 'node:crypto';
import { ApiKeyStore } from '../auth/api-keys';
import { TouchlineException } from '../common/touchline.exception';
import { MalformedJsonBody, type RequestWithRawBody } from '../collector/raw-body';
import { writeKeyOf } from '../collector/write-key';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { type TouchpointOutcome, TouchpointPublisher } from './touchpoint-publisher';

/**
 * Server APIs for touchpoints that have no webhook: a contact centre's calls (documented JSON,
 * docs/touchpoints.md) and other contacts (store visits, meetings, support tickets). Write key of
 * a phone or other source, as for the collector.
 */
@ApiTags('contacts')
@ApiBasicAuth('writeKey')
@Controller('v1')
export class ContactsController {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
    private readonly touchpoints: TouchpointPublisher,
  ) {}

  @Post('calls')
  @HttpCode(200)
  @ApiOperation({ summary: 'Call lifecycle events from a contact centre (phone source)' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['events'],
      description: 'See docs/touchpoints.md, "Generic contact-centre format"',
    },
  })
  async calls(
    @Req() request: RequestWithRawBody,
    @Body() body: unknown,
  ): Promise<TouchpointOutcome> {
    return this.receive(request, body, 'phone', '/v1/calls', (ctx) =>
      mapContactCentreEvents(body, ctx, this.options()),
    );
  }

  @Post('contacts')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Other contacts: store visits, meetings, support tickets (other source)',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['contacts'],
      description: 'See docs/touchpoints.md, "Other contacts"',
    },
  })
  async contacts(
    @Req() request: RequestWithRawBody,
    @Body() body: unknown,
  ): Promise<TouchpointOutcome> {
    return this.receive(request, body, 'other', '/v1/contacts', (ctx) =>
      mapOtherContacts(body, ctx, this.options()),
    );
  }

  private options(): { defaultCountry?: CountryCode } {
    const country = this.runtime.config.defaultCountry;
    return country ? { defaultCountry: country as CountryCode } : {};
  }

  private async receive(
    request: RequestWithRawBody,
    body: unknown,
    channel: Channel,
    endpoint: string,
    map: (ctx: { sourceId: string; receivedAt: Date }) => MappingResult,
  ): Promise<TouchpointOutcome> {
    const principal = await this.keys.resolve(writeKeyOf(request, body) ?? '');
    if (!principal || principal.role !== 'ingestion' || principal.sourceId === null) {
      throw new TouchlineException(
        'UNAUTHORIZED',
        'A valid write key is required: send it as the HTTP Basic user name.',
      );
    }
    if (principal.channel !== channel) {
      throw new TouchlineException(
        'FORBIDDEN',
        `This endpoint needs the write key of a ${channel} source.`,
      );
    }
    if (body instanceof MalformedJsonBody) {
      throw new TouchlineException('INVALID_JSON', `The body is not valid JSON: ${body.problem}`);
    }
    const receivedAt = new Date();
    const result = map({ sourceId: principal.sourceId, receivedAt });
    const outcome = await this.touchpoints.publish(result, {
      sourceId: principal.sourceId,
      endpoint,
      receivedAt,
      correlationId: randomUUID(),
    });
    if (outcome.accepted === 0 && outcome.rejected > 0) {
      throw new TouchlineException('INVALID_EVENT', 'No item was accepted', outcome);
    }
    return outcome;
  }
}
