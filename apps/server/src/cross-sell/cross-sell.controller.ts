import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { limitParam } from '../admin/request-parsing';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { AuditLog } from '../auth/audit-log';
import { AffinityComputation, type AffinityRunDto } from './affinity-computation';
import {
  customerIdParam,
  decodeCursorOrThrow,
  encodeCursor,
  onlyParamsOrThrow,
  parseComputeRequest,
  productParam,
  type QueryParams,
  singleParam,
} from './cross-sell-params';
import { CrossSellQueries } from './cross-sell-queries';

/** Computing product affinity: admin keys only, audited. */
@ApiTags('admin')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/cross-sell')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class CrossSellAdminController {
  constructor(
    private readonly computation: AffinityComputation,
    private readonly audit: AuditLog,
  ) {}

  @Post('compute')
  @ApiOperation({
    summary:
      'Compute product affinity (support, confidence, lift) from co-purchases and replace read_models.product_affinity ({ minCustomers, minSupport, maxProductsPerCustomer, maxPairs })',
  })
  @ApiResponse({ status: 201, description: 'The computation: customers, products, pairs, rules' })
  @ApiResponse({ status: 400, description: 'A field out of range, named' })
  @HttpCode(201)
  async compute(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<AffinityRunDto> {
    const options = parseComputeRequest(body);
    const actorKeyId = request.principal?.keyId ?? null;
    const run = await this.computation.compute(options, actorKeyId);
    await this.audit.record({
      actorKeyId,
      action: 'cross-sell.compute',
      target: run.runId,
      outcome: 'done',
      details: {
        config: run.config,
        customers: run.customers,
        pairs: run.pairs,
        rules: run.rules,
        truncated: run.truncated,
      },
    });
    return run;
  }
}

/** Cross-sell for analysts: affinity between products and the candidates it gives. */
@ApiTags('cross-sell')
@ApiBearerAuth('apiKey')
@Controller('v1')
@UseGuards(ApiKeyGuard)
@RequireRole('analyst')
export class CrossSellController {
  constructor(private readonly queries: CrossSellQueries) {}

  @Get('cross-sell/affinity')
  @ApiOperation({
    summary:
      'The products bought with one product: highest lift first, with confidence and support',
  })
  @ApiQuery({ name: 'product', required: true, description: 'A product id (or sku) from orders' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 500, default 20' })
  @ApiResponse({ status: 400, description: 'A missing or malformed parameter, named' })
  @ApiResponse({ status: 404, description: 'No customer bought this product' })
  async affinity(@Query() query: QueryParams) {
    onlyParamsOrThrow(query, ['product', 'limit']);
    const product = productParam(singleParam(query, 'product'), true);
    return this.queries.affinityOrThrow(product, limitParam(singleParam(query, 'limit'), 20, 500));
  }

  @Get('cross-sell/candidates')
  @ApiOperation({
    summary:
      'The best cross-sell candidates: each customer with the product of highest lift they have not bought (or, with product, the customers it suits best)',
  })
  @ApiQuery({ name: 'product', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiResponse({ status: 400, description: 'A malformed parameter, named' })
  async candidates(@Query() query: QueryParams) {
    onlyParamsOrThrow(query, ['product', 'limit', 'cursor']);
    const product = productParam(singleParam(query, 'product'), false);
    const limit = limitParam(singleParam(query, 'limit'), 50, 500);
    const after = decodeCursorOrThrow(singleParam(query, 'cursor'));
    const page = await this.queries.candidates(product, limit, after);
    return {
      product,
      items: page.items,
      nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
    };
  }

  @Get('customers/:customerId/cross-sell')
  @ApiOperation({
    summary:
      "A customer's best cross-sell products, each with the rule behind it (bought A, lift L), and what they already bought",
  })
  @ApiParam({
    name: 'customerId',
    description: 'A unified customer id, an identifier (userId:ada) or a customer key (user:ada)',
  })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 100, default 10' })
  @ApiResponse({ status: 400, description: 'A malformed parameter, named' })
  @ApiResponse({ status: 404, description: 'No such customer' })
  async customer(@Param('customerId') customerId: string, @Query() query: QueryParams) {
    onlyParamsOrThrow(query, ['limit']);
    const limit = limitParam(singleParam(query, 'limit'), 10, 100);
    return this.queries.forCustomerOrThrow(customerIdParam(customerId), limit);
  }
}
