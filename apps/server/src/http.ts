import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { PinoNestLogger } from './common/logger';
import { TouchlineException } from './common/touchline.exception';
import { HARD_BODY_LIMIT_BYTES, registerRawJsonParser } from './collector/raw-body';
import type { Runtime } from './platform/runtime';

/** Build the HTTP application for a started runtime (used by main and by the tests). */
export async function createApp(runtime: Runtime, logger: Logger): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: HARD_BODY_LIMIT_BYTES, trustProxy: false });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRuntime(runtime, logger),
    adapter,
    {
      bodyParser: false,
      logger: new PinoNestLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
    },
  );
  registerRawJsonParser(app.getHttpAdapter().getInstance());
  // PostgreSQL text cannot hold NUL: a %00 in a path or query parameter would reach a query and
  // fail there. Refused at the edge for every route, like NUL in a JSON body.
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', async (request, reply) => {
      if (/%00/i.test(request.url)) {
        await reply
          .code(400)
          .send(
            new TouchlineException(
              'INVALID_REQUEST',
              'The URL contains the NUL character (%00), which no parameter may hold',
            ).toBody(),
          );
      }
    });
  // Browsers post from customers' sites. No cookies cross origins (credentials: false); the
  // tracker sends CORS-simple requests (text/plain, key in the body) so most need no preflight.
  app.enableCors({
    origin: true,
    credentials: false,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'x-correlation-id'],
    exposedHeaders: ['retry-after'],
    maxAge: 86_400,
  });
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Touchline')
      .setDescription(
        'Customer interaction tracking: Segment-compatible collector and customer read models.',
      )
      .setVersion('0.1.0')
      .addBasicAuth(
        { type: 'http', scheme: 'basic', description: 'Write key as the user name' },
        'writeKey',
      )
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key' }, 'apiKey')
      .build(),
  );
  app
    .getHttpAdapter()
    .get('/openapi.json', (_request, reply: { send: (body: unknown) => void }) =>
      reply.send(document),
    );
  return app;
}
