import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ApiKeyGuard, RequireRole } from '../auth/api-key.guard';
import { TouchlineException } from '../common/touchline.exception';
import { CustomerActivityDto } from './customer-activity.dto';
import { GetCustomerActivityQuery } from './get-customer-activity.query';
import { GetCustomerSessionsQuery, type SessionDto } from './get-customer-sessions.query';
import { limitParam } from '../admin/request-parsing';

const MAX_ID_LENGTH = 520;

@ApiTags('customers')
@ApiBearerAuth('apiKey')
@Controller('v1/customers')
@UseGuards(ApiKeyGuard)
@RequireRole('analyst')
export class CustomersController {
  constructor(private readonly queries: QueryBus) {}

  @Get(':id')
  @ApiOperation({
    summary:
      "A customer's activity summary: touchpoints per channel, first and last seen, last contact",
  })
  @ApiParam({
    name: 'id',
    description:
      'user:<userId>, anon:<anonymousId>, or a bare id (looked up as userId, then anonymousId)',
  })
  @ApiOkResponse({ type: CustomerActivityDto })
  @ApiResponse({ status: 401, description: 'Missing, unknown, revoked or expired API key' })
  @ApiResponse({ status: 404, description: 'No event recorded for this id' })
  async get(@Param('id') id: string): Promise<CustomerActivityDto> {
    if (id.length === 0 || id.length > MAX_ID_LENGTH) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `id must be 1 to ${MAX_ID_LENGTH} characters`,
      );
    }
    return this.queries.execute<GetCustomerActivityQuery, CustomerActivityDto>(
      new GetCustomerActivityQuery(id),
    );
  }

  @Get(':id/sessions')
  @ApiOperation({
    summary: "A customer's web sessions, newest first: landing page, referrer, UTM campaign",
  })
  @ApiParam({ name: 'id', description: 'as for GET /v1/customers/{id}' })
  @ApiResponse({ status: 400, description: 'timeoutMinutes or limit out of range' })
  @ApiResponse({ status: 404, description: 'No event recorded for this id' })
  async sessions(
    @Param('id') id: string,
    @Query('timeoutMinutes') timeoutMinutes?: string,
    @Query('limit') limit?: string,
  ): Promise<{ customerKey: string; sessions: SessionDto[] }> {
    if (id.length === 0 || id.length > MAX_ID_LENGTH) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `id must be 1 to ${MAX_ID_LENGTH} characters`,
      );
    }
    let timeout = 30;
    if (timeoutMinutes !== undefined) {
      if (
        !/^\d{1,4}$/.test(timeoutMinutes) ||
        Number(timeoutMinutes) < 1 ||
        Number(timeoutMinutes) > 1440
      ) {
        throw new TouchlineException(
          'INVALID_REQUEST',
          'timeoutMinutes must be an integer from 1 to 1440',
        );
      }
      timeout = Number(timeoutMinutes);
    }
    return this.queries.execute(
      new GetCustomerSessionsQuery(id, timeout, limitParam(limit, 50, 500)),
    );
  }
}
