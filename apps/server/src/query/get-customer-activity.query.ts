import { IQueryHandler, type IQuery, QueryHandler } from '@nestjs/cqrs';
import { DataSource } from 'typeorm';
import { TouchlineException } from '../common/touchline.exception';
import { CustomerActivityEntity } from './customer-activity.entity';
import type { CustomerActivityDto } from './customer-activity.dto';

export class GetCustomerActivityQuery implements IQuery {
  constructor(readonly customerId: string) {}
}

/** The identifier kinds events are stored under (see docs/architecture.md). */
const KEY_PREFIXES = ['user:', 'anon:', 'email:', 'phone:', 'ext:'];

/**
 * Until identity resolution joins identifiers into customers, a customer is the identifier its
 * events arrived with: `user:<userId>`, `anon:<anonymousId>`, `email:<address>`, `phone:<E.164>`,
 * `ext:<id>`, or a bare id (looked up as a user id first, then as an anonymous id).
 */
export function candidateKeys(customerId: string): string[] {
  if (KEY_PREFIXES.some((prefix) => customerId.startsWith(prefix))) return [customerId];
  return [`user:${customerId}`, `anon:${customerId}`];
}

@QueryHandler(GetCustomerActivityQuery)
export class GetCustomerActivityHandler implements IQueryHandler<
  GetCustomerActivityQuery,
  CustomerActivityDto
> {
  constructor(private readonly dataSource: DataSource) {}

  async execute({ customerId }: GetCustomerActivityQuery): Promise<CustomerActivityDto> {
    const keys = candidateKeys(customerId);
    const rows = await this.dataSource
      .getRepository(CustomerActivityEntity)
      .createQueryBuilder('a')
      .where('a.customerKey IN (:...keys)', { keys })
      .getMany();
    const row = keys
      .map((key) => rows.find((r) => r.customerKey === key))
      .find((r) => r !== undefined);
    if (!row) {
      throw new TouchlineException(
        'NOT_FOUND',
        `No customer "${customerId}": no event has been recorded for this id yet.`,
      );
    }
    return {
      customerKey: row.customerKey,
      eventsByChannel: {
        web: row.webEvents,
        email: row.emailEvents,
        phone: row.phoneEvents,
        other: row.otherEvents,
      },
      totalEvents: row.totalEvents,
      firstSeenAt: row.firstSeenAt.toISOString(),
      lastSeenAt: row.lastSeenAt.toISOString(),
      lastContact: {
        at: row.lastSeenAt.toISOString(),
        channel: row.lastChannel,
        type: row.lastEventType,
        name: row.lastEventName,
      },
    };
  }
}
