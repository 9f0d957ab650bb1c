import { createPublicKey, verify, type KeyObject } from 'node:crypto';

import { TouchpointError } from '../errors';
import type { EmailEvent } from '../events';
import { decodeBase64Strict } from '../internal/crypto';
import { bodyBytes, bodyText, headerValue } from '../internal/headers';
import { FieldReader, isRecord, parseJson, type JsonRecord } from '../internal/reader';
import { MappingResultBuilder, type MappingContext, type MappingResult } from '../result';
import { emailEvent } from './email-event';
import { checkFreshnessOrThrow, type WebhookRequest } from './webhook-request';

export const SENDGRID_SIGNATURE_HEADER = 'X-Twilio-Email-Event-Webhook-Signature';
export const SENDGRID_TIMESTAMP_HEADER = 'X-Twilio-Email-Event-Webhook-Timestamp';

export interface SendGridWebhookConfig {
  /** The verification key from SendGrid's Signed Event Webhook settings: base64 DER (SPKI); several during rotation. */
  readonly publicKeys: string | readonly string[];
  /** Refuse signatures whose timestamp is further than this from the receive time; null disables. Default 600. */
  readonly toleranceSeconds?: number | null;
}

/** Parses the configured keys; an unusable key is a deployment error, reported as such. */
export function sendGridPublicKeysOrThrow(keys: string | readonly string[]): readonly KeyObject[] {
  const list = typeof keys === 'string' ? [keys] : keys;
  if (list.length === 0)
    throw new TouchpointError(
      'INVALID_CONFIGURATION',
      'SendGrid: at least one public key is required',
    );
  return list.map((text) => {
    const der = decodeBase64Strict(text);
    let key: KeyObject;
    try {
      key =
        der === null
          ? createPublicKey(text)
          : createPublicKey({ key: der, format: 'der', type: 'spki' });
    } catch (error: unknown) {
      throw new TouchpointError(
        'INVALID_CONFIGURATION',
        'SendGrid: the public key is not a DER or PEM public key',
        { cause: error },
      );
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new TouchpointError(
        'INVALID_CONFIGURATION',
        'SendGrid: the public key must be an ECDSA P-256 key',
      );
    }
    return key;
  });
}

/**
 * SendGrid signs timestamp + raw body with ECDSA P-256 / SHA-256 (DER signature, base64).
 * `now` is the receive time, for the staleness check.
 */
export function verifySendGridSignatureOrThrow(
  request: WebhookRequest,
  config: SendGridWebhookConfig,
  now: Date,
): void {
  const keys = sendGridPublicKeysOrThrow(config.publicKeys);
  const signatureText = headerValue(request.headers, SENDGRID_SIGNATURE_HEADER);
  const timestamp = headerValue(request.headers, SENDGRID_TIMESTAMP_HEADER);
  if (signatureText === null || timestamp === null) {
    throw new TouchpointError(
      'MISSING_SIGNATURE',
      'the SendGrid signature or timestamp header is missing',
    );
  }
  if (!/^\d{1,12}$/.test(timestamp))
    throw new TouchpointError('INVALID_SIGNATURE', 'the SendGrid timestamp is not a number');
  const signature = decodeBase64Strict(signatureText);
  if (signature === null)
    throw new TouchpointError('INVALID_SIGNATURE', 'the SendGrid signature is not base64');
  const signed = Buffer.concat([Buffer.from(timestamp, 'utf8'), bodyBytes(request.rawBody)]);
  const valid = keys.some((key) => {
    try {
      return verify('sha256', signed, { key, dsaEncoding: 'der' }, signature);
    } catch {
      return false;
    }
  });
  if (!valid)
    throw new TouchpointError('INVALID_SIGNATURE', 'the SendGrid signature does not verify');
  // Checked after the signature, so a forged timestamp is reported as what it is.
  checkFreshnessOrThrow(Number(timestamp) * 1000, now, config.toleranceSeconds);
}

/** Verifies, then maps. Throws TouchpointError before reading the body when authentication fails. */
export function receiveSendGridWebhook(
  request: WebhookRequest,
  config: SendGridWebhookConfig,
  context: MappingContext,
): MappingResult<EmailEvent> {
  verifySendGridSignatureOrThrow(request, config, context.receivedAt);
  const parsed = parseJson(bodyText(request.rawBody));
  if (!parsed.ok) {
    const result = new MappingResultBuilder<EmailEvent>();
    result.reject(
      null,
      null,
      [{ path: '', rule: 'json', message: parsed.message }],
      bodyText(request.rawBody),
    );
    return result.build();
  }
  return mapSendGridEvents(parsed.value, context);
}

/** Maps SendGrid's array of events; each item is answered on its own. */
export function mapSendGridEvents(
  payload: unknown,
  context: MappingContext,
): MappingResult<EmailEvent> {
  const result = new MappingResultBuilder<EmailEvent>();
  if (!Array.isArray(payload)) {
    result.reject(
      null,
      null,
      [{ path: '', rule: 'type', message: 'must be a JSON array of events' }],
      payload,
    );
    return result.build();
  }
  payload.forEach((item: unknown, index) => {
    const itemId =
      isRecord(item) && typeof item['sg_event_id'] === 'string' ? item['sg_event_id'] : null;
    const reader = new FieldReader();
    const outcome = mapOne(item, index, reader, context.sourceId);
    if (!reader.ok) result.reject(index, itemId, reader.errors, item);
    else if (typeof outcome === 'string') result.ignore(index, itemId, outcome);
    else if (outcome !== null) result.events.push(outcome);
  });
  return result.build();
}

const base = (index: number): string => `[${index}]`;

function mapOne(
  item: unknown,
  index: number,
  r: FieldReader,
  sourceId: string,
): EmailEvent | string | null {
  const path = base(index);
  const o = r.record(item, path);
  if (o === null) return null;
  const event = r.string(o, 'event', path, 64);
  const eventId = r.string(o, 'sg_event_id', path, 256);
  const recipient = r.email(o, 'email', path);
  const occurredAt = r.unixSeconds(o, 'timestamp', path);
  const sgMessageId = r.optionalString(o, 'sg_message_id', path, 512);
  const tags = r.optionalStringArray(o, 'category', path);
  const campaignId = campaignOf(o, r, path);
  if (event === null || eventId === null || recipient === null || occurredAt === null || !r.ok)
    return null;
  const common = {
    provider: 'sendgrid' as const,
    recipient,
    // sg_message_id is the X-Message-Id of the send response plus a per-recipient suffix.
    messageId: sgMessageId === null ? null : (sgMessageId.split('.filter')[0] ?? sgMessageId),
    providerEventId: eventId,
    campaignId,
    tags,
    occurredAt,
  };
  const ids = [eventId];
  switch (event) {
    case 'processed':
      return emailEvent('EmailSent', sourceId, ids, common);
    case 'delivered':
      return emailEvent('EmailDelivered', sourceId, ids, {
        ...common,
        smtpResponse: r.optionalString(o, 'response', path),
      });
    case 'open':
      return emailEvent('EmailOpened', sourceId, ids, {
        ...common,
        userAgent: r.optionalString(o, 'useragent', path),
        ipAddress: r.optionalString(o, 'ip', path, 64),
        machineOpen: r.optionalBoolean(o, 'sg_machine_open', path),
      });
    case 'click': {
      const url = r.string(o, 'url', path);
      if (url === null) return null;
      return emailEvent('EmailLinkClicked', sourceId, ids, {
        ...common,
        url,
        userAgent: r.optionalString(o, 'useragent', path),
        ipAddress: r.optionalString(o, 'ip', path, 64),
      });
    }
    case 'bounce': {
      // SendGrid reports blocks (reputation, content) as type "blocked": temporary, the address exists.
      const type = r.optionalString(o, 'type', path, 64);
      return emailEvent('EmailBounced', sourceId, ids, {
        ...common,
        bounceType: type === 'blocked' ? 'soft' : 'hard',
        providerBounceType: type,
        reason: r.optionalString(o, 'reason', path),
      });
    }
    case 'deferred':
      return emailEvent('EmailDeferred', sourceId, ids, {
        ...common,
        reason: r.optionalString(o, 'response', path),
        attempt: r.optionalCount(o, 'attempt', path),
      });
    case 'dropped':
      return emailEvent('EmailDropped', sourceId, ids, {
        ...common,
        reason: r.optionalString(o, 'reason', path),
      });
    case 'spamreport':
      return emailEvent('EmailMarkedAsSpam', sourceId, ids, { ...common, feedbackType: 'abuse' });
    case 'unsubscribe':
      return emailEvent('EmailUnsubscribed', sourceId, ids, {
        ...common,
        scope: 'all',
        listId: null,
      });
    case 'group_unsubscribe':
      return emailEvent('EmailUnsubscribed', sourceId, ids, {
        ...common,
        scope: 'list',
        listId: r.optionalId(o, 'asm_group_id', path),
      });
    default:
      return `SendGrid event "${event}" is not a touchpoint`;
  }
}

/** Custom argument campaign_id, else SendGrid Marketing Campaigns' own ids. */
function campaignOf(o: JsonRecord, r: FieldReader, path: string): string | null {
  return (
    r.optionalId(o, 'campaign_id', path) ??
    r.optionalId(o, 'singlesend_id', path) ??
    r.optionalId(o, 'marketing_campaign_id', path)
  );
}
