import { createHmac } from 'node:crypto';

import { TouchpointError } from '../errors';
import type { EmailEvent } from '../events';
import { constantTimeEqual, secretsList } from '../internal/crypto';
import { bodyText } from '../internal/headers';
import { FieldReader, isRecord, joinPath, parseJson } from '../internal/reader';
import { MappingResultBuilder, type MappingContext, type MappingResult } from '../result';
import { emailEvent } from './email-event';
import type { SeenTokenStore } from './seen-token-store';
import {
  checkFreshnessOrThrow,
  DEFAULT_TOLERANCE_SECONDS,
  type WebhookRequest,
} from './webhook-request';

export interface MailgunWebhookConfig {
  /** HTTP webhook signing keys (Mailgun: Sending > Webhooks); several during rotation. */
  readonly signingKeys: string | readonly string[];
  /** Seconds a signature's timestamp may differ from the receive time. Default 600. */
  readonly toleranceSeconds?: number;
  readonly seenTokens: SeenTokenStore;
}

export interface MailgunSignature {
  readonly timestamp: string;
  readonly token: string;
  readonly signature: string;
}

/**
 * signature = hex HMAC-SHA256(signing key, timestamp + token). The token is claimed only after
 * the signature verifies, so forged requests cannot burn tokens.
 */
export async function verifyMailgunSignatureOrThrow(
  signature: unknown,
  config: MailgunWebhookConfig,
  now: Date,
): Promise<MailgunSignature> {
  const keys = secretsList(config.signingKeys, 'Mailgun signing keys');
  if (!isRecord(signature))
    throw new TouchpointError('MISSING_SIGNATURE', 'the Mailgun signature block is missing');
  const { timestamp, token, signature: hex } = signature;
  if (
    typeof timestamp !== 'string' ||
    typeof token !== 'string' ||
    typeof hex !== 'string' ||
    token === '' ||
    hex === ''
  ) {
    throw new TouchpointError(
      'MISSING_SIGNATURE',
      'the Mailgun signature needs timestamp, token and signature strings',
    );
  }
  if (!/^\d{1,12}$/.test(timestamp) || token.length > 256) {
    throw new TouchpointError('INVALID_SIGNATURE', 'the Mailgun timestamp or token is malformed');
  }
  let valid = false;
  for (const key of keys) {
    valid =
      constantTimeEqual(
        createHmac('sha256', key)
          .update(timestamp + token)
          .digest('hex'),
        hex.toLowerCase(),
      ) || valid;
  }
  if (!valid)
    throw new TouchpointError('INVALID_SIGNATURE', 'the Mailgun signature does not verify');
  const tolerance = config.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const signedAt = Number(timestamp) * 1000;
  checkFreshnessOrThrow(signedAt, now, tolerance);
  // Past the tolerance the timestamp check refuses it anyway: no need to remember longer.
  if (!(await config.seenTokens.claim(token, new Date(signedAt + tolerance * 1000)))) {
    throw new TouchpointError('REPLAYED_TOKEN', 'the Mailgun token was already used');
  }
  return { timestamp, token, signature: hex };
}

export interface MailgunWebhookResult extends MappingResult<EmailEvent> {
  /** Release it in the token store if the events cannot be stored, so Mailgun's retry is accepted. */
  readonly token: string;
}

/** Verifies the JSON webhook's signature block, then maps its event-data. */
export async function receiveMailgunWebhook(
  request: Pick<WebhookRequest, 'rawBody'>,
  config: MailgunWebhookConfig,
  context: MappingContext,
): Promise<MailgunWebhookResult> {
  const parsed = parseJson(bodyText(request.rawBody));
  if (!parsed.ok || !isRecord(parsed.value)) {
    throw new TouchpointError(
      'MALFORMED_REQUEST',
      'a Mailgun webhook body is a JSON object with signature and event-data',
    );
  }
  const { token } = await verifyMailgunSignatureOrThrow(
    parsed.value['signature'],
    config,
    context.receivedAt,
  );
  return { ...mapMailgunEvent(parsed.value['event-data'], context), token };
}

/** Maps one Mailgun event-data object. */
export function mapMailgunEvent(
  eventData: unknown,
  context: MappingContext,
): MappingResult<EmailEvent> {
  const result = new MappingResultBuilder<EmailEvent>();
  const r = new FieldReader();
  const itemId =
    isRecord(eventData) && typeof eventData['id'] === 'string' ? eventData['id'] : null;
  const outcome = mapOne(eventData, r, context.sourceId);
  if (!r.ok) result.reject(0, itemId, r.errors, eventData);
  else if (typeof outcome === 'string') result.ignore(0, itemId, outcome);
  else if (outcome !== null) result.events.push(outcome);
  return result.build();
}

const SUPPRESSED = new Set(['suppress-bounce', 'suppress-unsubscribe', 'suppress-complaint']);

function mapOne(value: unknown, r: FieldReader, sourceId: string): EmailEvent | string | null {
  const path = 'event-data';
  const o = r.record(value, path);
  if (o === null) return null;
  const event = r.string(o, 'event', path, 64);
  const id = r.string(o, 'id', path, 256);
  const recipient = r.email(o, 'recipient', path);
  const occurredAt = r.unixSeconds(o, 'timestamp', path);
  const message = r.optionalRecord(o, 'message', path);
  const headers =
    message === null ? null : r.optionalRecord(message, 'headers', joinPath(path, 'message'));
  const messageId =
    headers === null
      ? null
      : r.optionalString(headers, 'message-id', joinPath(path, 'message.headers'), 998);
  const variables = r.optionalRecord(o, 'user-variables', path);
  const campaignId =
    variables === null
      ? null
      : r.optionalId(variables, 'campaign_id', joinPath(path, 'user-variables'));
  const tags = r.optionalStringArray(o, 'tags', path);
  if (event === null || id === null || recipient === null || occurredAt === null || !r.ok)
    return null;
  const common = {
    provider: 'mailgun' as const,
    recipient,
    messageId,
    providerEventId: id,
    campaignId,
    tags,
    occurredAt,
  };
  const ids = [id];
  const status = r.optionalRecord(o, 'delivery-status', path);
  const statusText = (): string | null =>
    status === null
      ? null
      : (r.optionalString(status, 'message', joinPath(path, 'delivery-status')) ??
        r.optionalString(status, 'description', joinPath(path, 'delivery-status')));
  const client = (): { userAgent: string | null; ipAddress: string | null } => {
    const info = r.optionalRecord(o, 'client-info', path);
    return {
      userAgent:
        info === null ? null : r.optionalString(info, 'user-agent', joinPath(path, 'client-info')),
      ipAddress: r.optionalString(o, 'ip', path, 64),
    };
  };
  switch (event) {
    case 'accepted':
      return emailEvent('EmailSent', sourceId, ids, common);
    case 'delivered':
      return emailEvent('EmailDelivered', sourceId, ids, { ...common, smtpResponse: statusText() });
    case 'opened':
      return emailEvent('EmailOpened', sourceId, ids, {
        ...common,
        ...client(),
        machineOpen: null,
      });
    case 'clicked': {
      const url = r.string(o, 'url', path);
      if (url === null) return null;
      return emailEvent('EmailLinkClicked', sourceId, ids, { ...common, url, ...client() });
    }
    case 'failed': {
      const severity = r.oneOf(o, 'severity', path, ['permanent', 'temporary']);
      const reason = r.optionalString(o, 'reason', path, 256);
      if (severity === null) return null;
      // A temporary failure is retried by Mailgun: a deferral, not a bounce.
      if (severity === 'temporary') {
        const attempt =
          status === null
            ? null
            : r.optionalCount(status, 'attempt-no', joinPath(path, 'delivery-status'));
        return emailEvent('EmailDeferred', sourceId, ids, {
          ...common,
          reason: statusText(),
          attempt,
        });
      }
      if (reason !== null && SUPPRESSED.has(reason)) {
        return emailEvent('EmailDropped', sourceId, ids, { ...common, reason });
      }
      // "old": Mailgun gave up after temporary failures; the address may well exist.
      return emailEvent('EmailBounced', sourceId, ids, {
        ...common,
        bounceType: reason === 'old' ? 'soft' : 'hard',
        providerBounceType: reason === null ? 'permanent' : `permanent/${reason}`,
        reason: statusText(),
      });
    }
    case 'rejected': {
      const reject = r.optionalRecord(o, 'reject', path);
      return emailEvent('EmailDropped', sourceId, ids, {
        ...common,
        reason:
          reject === null ? null : r.optionalString(reject, 'reason', joinPath(path, 'reject')),
      });
    }
    case 'complained':
      return emailEvent('EmailMarkedAsSpam', sourceId, ids, { ...common, feedbackType: 'abuse' });
    case 'unsubscribed':
      return emailEvent('EmailUnsubscribed', sourceId, ids, {
        ...common,
        scope: 'all',
        listId: null,
      });
    default:
      return `Mailgun event "${event}" is not a touchpoint`;
  }
}
