import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TouchlineException } from '../common/touchline.exception';
import { TRACKER_BUNDLE } from './tracker.tokens';
import type { TrackerBundle } from './tracker-bundle';

/** Serves the browser tracker. Public: sites load it with a plain <script> tag. */
@ApiTags('collector')
@Controller()
export class TrackerController {
  constructor(@Inject(TRACKER_BUNDLE) private readonly bundle: TrackerBundle | null) {}

  @Get('tracker.js')
  @ApiOperation({ summary: 'The browser tracker (window.touchline); see docs/tracker.md' })
  @ApiProduces('application/javascript')
  @ApiResponse({ status: 200, description: 'tracker.js, gzipped when the browser accepts it' })
  @ApiResponse({ status: 304, description: 'Unchanged since the ETag the browser sent' })
  serve(@Req() request: FastifyRequest, @Res() reply: FastifyReply): FastifyReply {
    const bundle = this.bundle;
    if (!bundle) {
      throw new TouchlineException(
        'NOT_FOUND',
        'tracker.js was not built: run `npm run build` (it builds libs/tracker)',
      );
    }
    void reply
      .header('content-type', 'application/javascript; charset=utf-8')
      // Short cache: a new release reaches sites within the hour; the ETag makes checks cheap.
      .header('cache-control', 'public, max-age=3600')
      .header('etag', bundle.etag)
      .header('vary', 'accept-encoding')
      // Sites that isolate themselves (COEP) may still load it.
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === bundle.etag) return reply.status(304).send();
    const acceptEncoding = request.headers['accept-encoding'];
    if (typeof acceptEncoding === 'string' && /\bgzip\b/.test(acceptEncoding)) {
      return reply.header('content-encoding', 'gzip').send(bundle.gzipped);
    }
    return reply.send(bundle.plain);
  }
}
