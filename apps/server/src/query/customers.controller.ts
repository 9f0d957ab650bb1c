import { Controller, Get, Param, UseGuards } from '@nestjs/common';
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
}
