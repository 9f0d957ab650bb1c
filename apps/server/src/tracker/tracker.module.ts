import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { TrackerController } from './tracker.controller';
import { loadTrackerBundle, TRACKER_BUNDLE_PATH } from './tracker-bundle';
import { TRACKER_BUNDLE } from './tracker.tokens';

/** GET /tracker.js, part of the collector role. */
@Module({
  controllers: [TrackerController],
  providers: [
    {
      provide: TRACKER_BUNDLE,
      inject: [LOGGER],
      useFactory: (logger: Logger) => {
        const bundle = loadTrackerBundle();
        if (!bundle) {
          logger.warn(
            { file: TRACKER_BUNDLE_PATH },
            'tracker.js is not built; /tracker.js answers 404 until `npm run build`',
          );
        }
        return bundle;
      },
    },
  ],
})
export class TrackerModule {}
