import { Controller, Get, Inject, Logger, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  isTouchpointError,
  OPEN_PIXEL_GIF,
  openPixelOpenedEvent,
  trackedLinkClickedEvent,
  verifyOpenPixelOrThrow,
  verifyTrackedLinkOrThrow,
} from '@touchline/touchpoints';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { TouchlineException } from '../common/touchline.exception';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { touchpointException } from './touchpoint-errors';
import { TouchpointPublisher } from './touchpoint-publisher';

/** Events from our own tracked links and pixels belong to this built-in source. */
export const EMAIL_TRACKING_SOURCE = 'touchline-email-tracking';

/**
 * Tracked email links and the open pixel. Public (recipients click them), so everything rests on
 * the signature: an unsigned or tampered link is refused and NEVER redirected (no open redirect).
 */
@ApiTags('email tracking')
@Controller('v1/t')
export class TrackingController {
  private readonly logger = new Logger(TrackingController.name);

  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    private readonly touchpoints: TouchpointPublisher,
  ) {}

  @Get('click')
  @ApiOperation({
    summary: 'Follow a signed tracked link: records EmailLinkClicked, then redirects',
  })
  async click(
    @Query() query: Record<string, string | string[]>,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const link = this.verified(() => verifyTrackedLinkOrThrow(query, this.secrets()));
    const event = trackedLinkClickedEvent(link, this.trackingRequest(request));
    await this.record(event);
    // Only a verified, signed http(s) URL gets here.
    await reply.status(302).header('location', link.url).header('cache-control', 'no-store').send();
  }

  @Get('open')
  @ApiOperation({ summary: 'The signed open pixel: records EmailOpened, answers a 1x1 GIF' })
  async open(
    @Query() query: Record<string, string | string[]>,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const pixel = this.verified(() => verifyOpenPixelOrThrow(query, this.secrets()));
    await this.record(openPixelOpenedEvent(pixel, this.trackingRequest(request)));
    await reply
      .status(200)
      .header('content-type', 'image/gif')
      .header('cache-control', 'no-store, private')
      .send(OPEN_PIXEL_GIF);
  }

  private secrets(): readonly string[] {
    const secrets = this.runtime.config.touchpoints.linkSecrets;
    if (secrets.length === 0)
      throw new TouchlineException(
        'NOT_FOUND',
        'Email tracking is not configured here: set TOUCHLINE_LINK_SECRETS',
      );
    return secrets;
  }

  private verified<T>(verify: () => T): T {
    try {
      return verify();
    } catch (error) {
      if (isTouchpointError(error)) {
        const refused = touchpointException(error, 'Invalid tracking link');
        throw refused.code === 'UNAUTHORIZED'
          ? new TouchlineException('FORBIDDEN', refused.message, refused.details)
          : refused;
      }
      throw error;
    }
  }

  private trackingRequest(request: FastifyRequest) {
    const userAgent = request.headers['user-agent'];
    return {
      sourceId: EMAIL_TRACKING_SOURCE,
      receivedAt: new Date(),
      requestId: randomUUID(),
      userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
      ipAddress: request.ip,
    };
  }

  /**
   * The recipient must reach the page even when storage is away: a click that cannot be stored
   * is counted as lost (logged without personal data) rather than turned into an error page.
   */
  private async record(
    event: Parameters<TouchpointPublisher['publish']>[0]['events'][number],
  ): Promise<void> {
    try {
      await this.touchpoints.publish(
        { events: [event], rejected: [], ignored: [] },
        {
          sourceId: EMAIL_TRACKING_SOURCE,
          endpoint: '/v1/t',
          receivedAt: new Date(),
          correlationId: randomUUID(),
        },
      );
    } catch (error) {
      this.logger.warn(
        `email tracking event ${event.type} lost: ${error instanceof Error ? error.name : 'error'}`,
      );
    }
  }
}
