import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { guardCheckedOutClients } from '@touchline/platform';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { CustomerActivityEntity } from './customer-activity.entity';
import { CustomersController } from './customers.controller';
import { ProfileAsOf } from '../profiles/profile-as-of';
import { ProfileQueries } from '../profiles/profile-queries';
import { ProfilesController } from '../profiles/profiles.controller';
import { GetCustomerActivityHandler } from './get-customer-activity.query';
import { GetCustomerSessionsHandler } from './get-customer-sessions.query';

@Module({
  imports: [CqrsModule],
  controllers: [CustomersController, ProfilesController],
  providers: [
    {
      provide: DataSource,
      inject: [RUNTIME],
      // Read models are queried through TypeORM; their tables come from our SQL migrations.
      useFactory: async (runtime: Runtime) => {
        const dataSource = await new DataSource({
          type: 'postgres',
          url: runtime.databaseUrl,
          entities: [CustomerActivityEntity],
          synchronize: false,
          migrationsRun: false,
          extra: { max: 5, connectionTimeoutMillis: 5_000 },
        }).initialize();
        // TypeORM's own pool: keep a dropped connection from crashing the process.
        guardCheckedOutClients((dataSource.driver as unknown as { master: Pool }).master);
        return dataSource;
      },
    },
    GetCustomerActivityHandler,
    GetCustomerSessionsHandler,
    ProfileQueries,
    ProfileAsOf,
  ],
})
export class QueryModule implements OnApplicationShutdown {
  constructor(private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
