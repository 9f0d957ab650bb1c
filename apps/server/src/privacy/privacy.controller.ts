import { Controller, Get, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiKeyGuard, type AuthenticatedRequest, RequireRole } from '../auth/api-key.guard';
import { AuditLog } from '../auth/audit-log';
import { TouchlineException } from '../common/touchline.exception';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { candidateKeys } from '../query/get-customer-activity.query';
import { type CustomerExport, exportCustomer } from './customer-export';
import {
  CustomerErasure,
  CustomerNotFoundError,
  type ErasureOutcome,
} from './erasure/customer-erasure';

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
    private readonly erasure: CustomerErasure,
  ) {}

  @Post(':id/erasure')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Erase a customer (right to be forgotten)',
    description:
      "Destroys the data keys of every identifier of the customer (their personal data in the event store and in republished topics can never be opened again), deletes the customer's rows from every read model and the dead letters naming one of its identifiers, and appends an erasure event without personal data. Effective in every process within the key cache time (30 s). A second erasure of the same customer changes nothing and says so (status already-erased).",
  })
  @ApiParam({
    name: 'id',
    description:
      'the customer id (GET /v1/profiles, /v1/profiles/lookup), or one of its identifiers: email:<address>, phone:<E.164>, userId:<id>, user:<id>, anon:<id>',
  })
  @ApiOkResponse({ description: 'status erased or already-erased, with counts' })
  @ApiNotFoundResponse({ description: 'no customer with this id or identifier' })
  async erase(
    @Req() request: AuthenticatedRequest,
    @Param('id') id: string,
  ): Promise<ErasureOutcome> {
    if (id.length === 0 || id.length > MAX_ID_LENGTH) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `id must be 1 to ${MAX_ID_LENGTH} characters`,
      );
    }
    const actorKeyId = request.principal?.keyId ?? null;
    let outcome: ErasureOutcome;
    try {
      outcome = await this.erasure.eraseOrThrow(id, actorKeyId);
    } catch (error) {
      if (!(error instanceof CustomerNotFoundError)) throw error;
      // Audited without the id asked for: it may be an email address.
      await this.audit.record({ actorKeyId, action: 'customer.erasure', outcome: 'not-found' });
      throw new TouchlineException('NOT_FOUND', error.message);
    }
    await this.audit.record({
      actorKeyId,
      action: 'customer.erasure',
      // The customer id is a hash, not the person; the audit log keeps no identifier.
      target: outcome.customerId,
      outcome: outcome.status === 'erased' ? 'done' : 'no-op',
      details: {
        subjects: outcome.subjects,
        keysDestroyed: outcome.keysDestroyed,
        readModelRows: outcome.readModelRows,
        deadLetters: outcome.deadLetters,
      },
    });
    return outcome;
  }

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
