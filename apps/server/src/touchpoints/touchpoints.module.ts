import { Module } from '@nestjs/common';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { ContactsController } from './contacts.controller';
import { TouchpointPublisher } from './touchpoint-publisher';
import { TrackingController } from './tracking.controller';
import { WebhooksController } from './webhooks.controller';

/** Email, phone and other touchpoints: part of the collector role. */
@Module({
  controllers: [WebhooksController, ContactsController, TrackingController],
  providers: [
    {
      provide: TouchpointPublisher,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) =>
        new TouchpointPublisher(runtime.transport.publisher(), runtime.topics),
    },
  ],
})
export class TouchpointsModule {}
