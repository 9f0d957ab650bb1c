import { type DynamicModule, Module, type Provider, type Type } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { Logger } from 'pino';
import { AdminModule } from './admin/admin.module';
import { PrivacyModule } from './privacy/privacy.module';
import { ConsentModule } from './privacy/consent/consent.module';
import { ConsentApiModule } from './privacy/consent/consent-api.controller';
import { IdentityAdminModule } from './profiles/identity-admin.module';
import { ApiKeyStore } from './auth/api-keys';
import { CollectorModule } from './collector/collector.module';
import { ErrorFilter } from './common/error.filter';
import { LOGGER } from './common/logger';
import { HealthController } from './health/health.controller';
import type { Runtime } from './platform/runtime';
import { RUNTIME } from './platform/tokens';
import { OperationsModule } from './operations/operations.module';
import { ProjectorModule } from './projector/projector.module';
import { QueryModule } from './query/query.module';
import { RecorderModule } from './recorder/recorder.module';
import { TrackerModule } from './tracker/tracker.module';
import { TouchpointsModule } from './touchpoints/touchpoints.module';
import { ValueModule } from './value/value.module';
import { ChurnModule } from './churn/churn.module';
import { CrossSellModule } from './cross-sell/cross-sell.module';

/** Shared runtime parts, visible to every role's module. */
@Module({})
class RuntimeModule {
  static forRuntime(runtime: Runtime, logger: Logger): DynamicModule {
    const providers: Provider[] = [
      { provide: RUNTIME, useValue: runtime },
      { provide: LOGGER, useValue: logger },
      { provide: ApiKeyStore, useValue: new ApiKeyStore(runtime.pool) },
    ];
    return { module: RuntimeModule, global: true, providers, exports: providers };
  }
}

/** One application; the configured roles decide which modules it runs. */
@Module({})
export class AppModule {
  static forRuntime(runtime: Runtime, logger: Logger): DynamicModule {
    const roles = runtime.config.roles;
    const roleModules: Type[] = [];
    if (roles.has('collector'))
      roleModules.push(CollectorModule, TouchpointsModule, TrackerModule, ConsentApiModule);
    if (roles.has('recorder')) roleModules.push(RecorderModule);
    if (roles.has('projector')) roleModules.push(ProjectorModule);
    if (roles.has('query')) roleModules.push(QueryModule);
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRuntime(runtime, logger),
        ...roleModules,
        AdminModule,
        ValueModule,
        ChurnModule,
        CrossSellModule,
        OperationsModule,
        PrivacyModule,
        ConsentModule,
        IdentityAdminModule,
      ],
      controllers: [HealthController],
      providers: [{ provide: APP_FILTER, useClass: ErrorFilter }],
    };
  }
}
