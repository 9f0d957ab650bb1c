import { Controller, Get, Inject, Param, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { AuditLog } from '../auth/audit-log';
import { TouchlineException } from '../common/touchline.exception';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { candidateKeys } from '../query/get-customer-activity.query';
import { type CustomerExport, exportCustomer } from './customer-export';

const MAX_ID_LENGTH = 520;

/** Data-subject requests. Admin keys only; every request is audited (without the data). */
@ApiTags('privacy')
@ApiBearerAuth('apiKey')
@Controller('v1/admin/customers')
@UseGuards(ApiKeyGuard)
@RequireRole('admin')
export class PrivacyController {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    private readonly audit: AuditLog,
  ) {}

  @Get(':id/export')
  @ApiOperation({
    summary: 'Everything held about a customer key, as JSON (right of access / portability)',
  })
  @ApiParam({
    name: 'id',
    description:
      'user:<userId>, anon:<id>, email:<address>, phone:<E.164>, ext:<id>, or a bare user id',
  })
  async export(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
  ): Promise<CustomerExport> {
    if (id.length === 0 || id.length > MAX_ID_LENGTH) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `id must be 1 to ${MAX_ID_LENGTH} characters`,
      );
    }
    let found: CustomerExport | null = null;
    for (const key of candidateKeys(id)) {
      found = await exportCustomer(this.runtime.eventStore, this.runtime.pool, key, new Date());
      if (found) break;
    }
    await this.audit.record({
      actorKeyId: request.principal?.keyId ?? null,
      action: 'customer.export',
      // The audit log names the request, not the person: a hash would still identify them.
      target: found ? `events:${found.events.length}` : undefined,
      outcome: found ? 'done' : 'not-found',
    });
    if (!found)
      throw new TouchlineException('NOT_FOUND', `Nothing is held about "${id.slice(0, 64)}".`);
    return found;
  }
}
