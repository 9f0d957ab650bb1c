import { Controller, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Channel } from '@touchline/contracts';
import {
  InMemorySeenTokenStore,
  isTouchpointError,
  type MappingResult,
  receiveMailgunWebhook,
  receivePostmarkWebhook,
  receiveSendGridWebhook,
  receiveSesWebhook,
  receiveTwilioIncomingSms,
  receiveTwilioSmsStatus,
  receiveTwilioVoiceStatus,
  type CountryCode,
} from '@touchline/touchpoints';
import { randomUUID } from 'node:crypto';
import { ApiKeyStore } from '../auth/api-keys';
import { TouchlineException } from '../common/touchline.exception';
import type { RequestWithRawBody } from '../collector/raw-body';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { touchpointException } from './touchpoint-errors';
import { type TouchpointOutcome, TouchpointPublisher } from './touchpoint-publisher';

const CERTIFICATE_TTL_MS = 24 * 3600 * 1000;

/**
 * Provider webhooks: /v1/webhooks/<provider>/<sourceId>. The source must exist (created with
 * `touchline sources create`) for the provider's channel; the provider's own signature or
 * credentials are verified before anything is read, and a request that fails it stores nothing.
 */
@ApiTags('webhooks')
@Controller('v1/webhooks')
export class WebhooksController {
  private readonly seenMailgunTokens = new InMemorySeenTokenStore(() => new Date());
  private readonly certificates = new Map<string, { pem: string; until: number }>();

  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(ApiKeyStore) private readonly keys: ApiKeyStore,
    private readonly touchpoints: TouchpointPublisher,
  ) {}

  @Post('sendgrid/:sourceId')
  @HttpCode(200)
  @ApiOperation({ summary: 'SendGrid Event Webhook (signed: ECDSA over timestamp + body)' })
  @ApiParam({ name: 'sourceId', description: 'an email source' })
  async sendgrid(
    @Param('sourceId') sourceId: string,
    @Req() request: RequestWithRawBody,
  ): Promise<TouchpointOutcome> {
    const publicKey = this.configured(
      this.settings.sendgridPublicKey,
      'SendGrid',
      'SENDGRID_WEBHOOK_PUBLIC_KEY',
    );
    return this.receive(sourceId, 'email', request, 'sendgrid', (ctx) =>
      receiveSendGridWebhook(
        { rawBody: rawBodyOf(request), headers: request.headers },
        { publicKeys: publicKey },
        ctx,
      ),
    );
  }

  @Post('mailgun/:sourceId')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Mailgun webhooks (signed: HMAC of timestamp + token; tokens used once)',
  })
  async mailgun(
    @Param('sourceId') sourceId: string,
    @Req() request: RequestWithRawBody,
  ): Promise<TouchpointOutcome> {
    const signingKey = this.configured(
      this.settings.mailgunSigningKey,
      'Mailgun',
      'MAILGUN_WEBHOOK_SIGNING_KEY',
    );
    let token: string | null = null;
    try {
      return await this.receive(sourceId, 'email', request, 'mailgun', async (ctx) => {
        const result = await receiveMailgunWebhook(
          { rawBody: rawBodyOf(request) },
          { signingKeys: signingKey, seenTokens: this.seenMailgunTokens },
          ctx,
        );
        token = result.token;
        return result;
      });
    } catch (error) {
      // Storage failed after the token was claimed: release it so Mailgun's retry is accepted.
      if (token !== null && !(error instanceof TouchlineException && error.status < 500))
        await this.seenMailgunTokens.release(token);
      throw error;
    }
  }

  @Post('ses/:sourceId')
  @HttpCode(200)
  @ApiOperation({ summary: 'Amazon SES events through SNS (SNS message signature verified)' })
  async ses(
    @Param('sourceId') sourceId: string,
    @Req() request: RequestWithRawBody,
  ): Promise<TouchpointOutcome | { subscription: string }> {
    const topicArns = this.settings.sesTopicArns;
    if (topicArns.length === 0) throw notConfigured('Amazon SES', 'SES_SNS_TOPIC_ARNS');
    await this.requireSource(sourceId, 'email');
    const receivedAt = new Date();
    let outcome: Awaited<ReturnType<typeof receiveSesWebhook>>;
    try {
      outcome = await receiveSesWebhook(
        { rawBody: rawBodyOf(request) },
        { topicArns, fetchCertificate: (url) => this.certificate(url) },
        { sourceId, receivedAt },
      );
    } catch (error) {
      if (isTouchpointError(error)) throw touchpointException(error, 'SES webhook refused');
      throw error;
    }
    switch (outcome.kind) {
      case 'confirm-subscription': {
        // The URL was checked by the library: https on the topic's own SNS host.
        const response = await fetch(outcome.subscribeUrl, { signal: AbortSignal.timeout(10_000) });
        if (!response.ok)
          throw new TouchlineException(
            'SERVICE_UNAVAILABLE',
            'SNS subscription confirmation failed',
            undefined,
            30,
          );
        return { subscription: 'confirmed' };
      }
      case 'unsubscribed':
        return { subscription: 'unsubscribed' };
      case 'events':
        return this.touchpoints.publish(outcome.result, {
          sourceId,
          endpoint: '/v1/webhooks/ses',
          receivedAt,
          correlationId: randomUUID(),
        });
    }
  }

  @Post('postmark/:sourceId')
  @HttpCode(200)
  @ApiOperation({ summary: 'Postmark webhooks (HTTP Basic credentials configured in Postmark)' })
  async postmark(
    @Param('sourceId') sourceId: string,
    @Req() request: RequestWithRawBody,
  ): Promise<TouchpointOutcome> {
    const credentials = this.configured(
      this.settings.postmarkCredentials,
      'Postmark',
      'POSTMARK_WEBHOOK_CREDENTIALS',
    );
    return this.receive(sourceId, 'email', request, 'postmark', (ctx) =>
      receivePostmarkWebhook(
        { rawBody: rawBodyOf(request), headers: request.headers },
        { credentials },
        ctx,
      ),
    );
  }

  @Post('twilio/voice/:sourceId')
  @HttpCode(200)
  @ApiOperation({ summary: 'Twilio voice status callbacks (X-Twilio-Signature verified)' })
  async twilioVoice(
    @Param('sourceId') sourceId: string,
    @Req() request: RequestWithRawBody,
  ): Promise<TouchpointOutcome> {
    return this.twilio(sourceId, request, 'voice', receiveTwilioVoiceStatus);
  }

  @Post('twilio/sms/:sourceId')
  @HttpCode(200)
  @ApiOperation({ summary: 'Twilio incoming SMS webhook (X-Twilio-Signature verified)' })
  async twilioSms(
    @Param('sourceId') sourceId: string,
    @Req() request: RequestWithRawBody,
  ): Promise<TouchpointOutcome> {
    return this.twilio(sourceId, request, 'sms', receiveTwilioIncomingSms);
  }

  @Post('twilio/sms-status/:sourceId')
  @HttpCode(200)
  @ApiOperation({ summary: 'Twilio outbound SMS status callbacks (X-Twilio-Signature verified)' })
  async twilioSmsStatus(
    @Param('sourceId') sourceId: string,
    @Req() request: RequestWithRawBody,
  ): Promise<TouchpointOutcome> {
    return this.twilio(sourceId, request, 'sms-status', receiveTwilioSmsStatus);
  }

  private get settings(): Runtime['config']['touchpoints'] {
    return this.runtime.config.touchpoints;
  }

  private async twilio(
    sourceId: string,
    request: RequestWithRawBody,
    kind: string,
    receive:
      | typeof receiveTwilioVoiceStatus
      | typeof receiveTwilioIncomingSms
      | typeof receiveTwilioSmsStatus,
  ): Promise<TouchpointOutcome> {
    const authToken = this.configured(this.settings.twilioAuthToken, 'Twilio', 'TWILIO_AUTH_TOKEN');
    // Twilio signs the URL it called: behind a proxy that is TOUCHLINE_PUBLIC_URL, not our own.
    const base = this.runtime.config.publicUrl ?? `${request.protocol}://${request.host}`;
    const defaultCountry = (this.runtime.config.defaultCountry ?? undefined) as
      CountryCode | undefined;
    return this.receive(sourceId, 'phone', request, `twilio/${kind}`, (ctx) =>
      receive(
        { url: `${base}${request.url}`, rawBody: rawBodyOf(request), headers: request.headers },
        { authTokens: authToken, ...(defaultCountry ? { defaultCountry } : {}) },
        ctx,
      ),
    );
  }

  private async receive(
    sourceId: string,
    channel: Channel,
    request: RequestWithRawBody,
    provider: string,
    map: (ctx: { sourceId: string; receivedAt: Date }) => MappingResult | Promise<MappingResult>,
  ): Promise<TouchpointOutcome> {
    await this.requireSource(sourceId, channel);
    const receivedAt = new Date();
    let result: MappingResult;
    try {
      result = await map({ sourceId, receivedAt });
    } catch (error) {
      if (isTouchpointError(error)) throw touchpointException(error, `${provider} webhook refused`);
      throw error;
    }
    return this.touchpoints.publish(result, {
      sourceId,
      endpoint: `/v1/webhooks/${provider}`,
      receivedAt,
      correlationId: randomUUID(),
    });
  }

  private async requireSource(sourceId: string, channel: Channel): Promise<void> {
    const sourceChannel = await this.keys.sourceChannel(sourceId);
    if (sourceChannel === null)
      throw new TouchlineException('NOT_FOUND', `No active source "${sourceId.slice(0, 64)}"`);
    if (sourceChannel !== channel) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `Source "${sourceId}" is a ${sourceChannel} source; this webhook needs a ${channel} source`,
      );
    }
  }

  private configured<T>(value: T | null, provider: string, variable: string): T {
    if (value === null || (Array.isArray(value) && value.length === 0))
      throw notConfigured(provider, variable);
    return value;
  }

  private async certificate(url: string): Promise<string> {
    const cached = this.certificates.get(url);
    if (cached && cached.until > Date.now()) return cached.pem;
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`certificate fetch answered ${response.status}`);
    const pem = await response.text();
    this.certificates.set(url, { pem, until: Date.now() + CERTIFICATE_TTL_MS });
    return pem;
  }
}

function notConfigured(provider: string, variable: string): TouchlineException {
  return new TouchlineException(
    'NOT_FOUND',
    `${provider} webhooks are not configured here: set ${variable}`,
  );
}

function rawBodyOf(request: RequestWithRawBody): Buffer {
  return request.rawBody ?? Buffer.alloc(0);
}
