import type { EmailEvent } from '../events';
import { bodyText } from '../internal/headers';
import { FieldReader, isRecord, parseJson } from '../internal/reader';
import { MappingResultBuilder, type MappingContext, type MappingResult } from '../result';
import { verifyBasicAuthOrThrow, type BasicCredentials } from './basic-auth';
import { emailEvent } from './email-event';
import type { WebhookRequest } from './webhook-request';

export interface PostmarkWebhookConfig {
  /** The user name and password put in the webhook URL in Postmark's settings; several during rotation. */
  readonly credentials: BasicCredentials | readonly BasicCredentials[];
}

/** Bounce types that say the address does not exist. */
const HARD_BOUNCES = new Set(['HardBounce', 'BadEmailAddress']);
/** Bounce types that say delivery failed for now (or for a reason other than the address). */
const SOFT_BOUNCES = new Set([
  'SoftBounce',
  'Transient',
  'DnsError',
  'Blocked',
  'DMARCPolicy',
  'Unknown',
]);

/** Checks Basic auth (throws TouchpointError), then maps the record. */
export function receivePostmarkWebhook(
  request: WebhookRequest,
  config: PostmarkWebhookConfig,
  context: MappingContext,
): MappingResult<EmailEvent> {
  verifyBasicAuthOrThrow(request.headers, config.credentials);
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
  return mapPostmarkEvent(parsed.value, context);
}

/** Maps one Postmark webhook record (Delivery, Bounce, Open, Click, SpamComplaint, SubscriptionChange). */
export function mapPostmarkEvent(
  payload: unknown,
  context: MappingContext,
): MappingResult<EmailEvent> {
  const result = new MappingResultBuilder<EmailEvent>();
  const r = new FieldReader();
  const itemId =
    isRecord(payload) && typeof payload['MessageID'] === 'string' ? payload['MessageID'] : null;
  const outcome = mapOne(payload, r, context.sourceId);
  if (!r.ok) result.reject(0, itemId, r.errors, payload);
  else if (typeof outcome === 'string') result.ignore(0, itemId, outcome);
  else if (outcome !== null) result.events.push(outcome);
  return result.build();
}

function mapOne(payload: unknown, r: FieldReader, src: string): EmailEvent | string | null {
  const o = r.record(payload, '');
  if (o === null) return null;
  const recordType = r.string(o, 'RecordType', '', 64);
  if (recordType === null) return null;
  const messageId = r.optionalString(o, 'MessageID', '', 256);
  const tag = r.optionalString(o, 'Tag', '', 1000);
  const metadata = r.optionalRecord(o, 'Metadata', '');
  const campaignId = metadata === null ? null : r.optionalId(metadata, 'campaign_id', 'Metadata');
  const tags = tag === null ? [] : [tag];
  const common = { provider: 'postmark' as const, messageId, campaignId, tags };
  // Bounce and SpamComplaint records name the address Email; the others Recipient.
  const bounceLike = recordType === 'Bounce' || recordType === 'SpamComplaint';
  const recipient = bounceLike ? r.email(o, 'Email', '') : r.email(o, 'Recipient', '');
  if (recipient === null) return null;
  const client = (): { userAgent: string | null; ipAddress: string | null } => {
    const geo = r.optionalRecord(o, 'Geo', '');
    return {
      userAgent: r.optionalString(o, 'UserAgent', ''),
      ipAddress: geo === null ? null : r.optionalString(geo, 'IP', 'Geo', 64),
    };
  };
  switch (recordType) {
    case 'Delivery': {
      const occurredAt = r.isoTimestamp(o, 'DeliveredAt', '');
      const id = r.string(o, 'MessageID', '', 256);
      if (occurredAt === null || id === null) return null;
      return emailEvent('EmailDelivered', src, ['delivery', id, recipient], {
        ...common,
        recipient,
        providerEventId: null,
        occurredAt,
        smtpResponse: r.optionalString(o, 'Details', ''),
      });
    }
    case 'Open': {
      const occurredAt = r.isoTimestamp(o, 'ReceivedAt', '');
      const id = r.string(o, 'MessageID', '', 256);
      if (occurredAt === null || id === null) return null;
      return emailEvent('EmailOpened', src, ['open', id, recipient, occurredAt.toISOString()], {
        ...common,
        recipient,
        providerEventId: null,
        occurredAt,
        ...client(),
        machineOpen: null,
      });
    }
    case 'Click': {
      const occurredAt = r.isoTimestamp(o, 'ReceivedAt', '');
      const id = r.string(o, 'MessageID', '', 256);
      const url = r.string(o, 'OriginalLink', '');
      if (occurredAt === null || id === null || url === null) return null;
      return emailEvent(
        'EmailLinkClicked',
        src,
        ['click', id, recipient, occurredAt.toISOString(), url],
        {
          ...common,
          recipient,
          providerEventId: null,
          occurredAt,
          url,
          ...client(),
        },
      );
    }
    case 'Bounce':
    case 'SpamComplaint': {
      const bounceId = r.id(o, 'ID', '');
      const type = r.string(o, 'Type', '', 64);
      const occurredAt = r.isoTimestamp(o, 'BouncedAt', '');
      const reason = r.optionalString(o, 'Details', '') ?? r.optionalString(o, 'Description', '');
      if (bounceId === null || type === null || occurredAt === null) return null;
      const base = { ...common, recipient, providerEventId: bounceId, occurredAt };
      const ids = ['bounce', bounceId];
      if (type === 'SpamComplaint')
        return emailEvent('EmailMarkedAsSpam', src, ids, { ...base, feedbackType: 'abuse' });
      if (type === 'Unsubscribe')
        return emailEvent('EmailUnsubscribed', src, ids, { ...base, scope: 'all', listId: null });
      if (HARD_BOUNCES.has(type) || SOFT_BOUNCES.has(type)) {
        return emailEvent('EmailBounced', src, ids, {
          ...base,
          bounceType: HARD_BOUNCES.has(type) ? 'hard' : 'soft',
          providerBounceType: type,
          reason,
        });
      }
      return `Postmark bounce type "${type}" is not a delivery failure`;
    }
    case 'SubscriptionChange': {
      const occurredAt = r.isoTimestamp(o, 'ChangedAt', '');
      const id = r.string(o, 'MessageID', '', 256);
      const suppress = r.optionalBoolean(o, 'SuppressSending', '');
      const reason = r.optionalString(o, 'SuppressionReason', '', 64);
      const stream = r.optionalString(o, 'MessageStream', '', 256);
      if (occurredAt === null || id === null) return null;
      // Bounce and complaint suppressions are reported by their own records; only the person's own choice is an unsubscribe.
      if (suppress !== true || reason !== 'ManualSuppression') {
        return `Postmark subscription change (${suppress === true ? `suppressed: ${reason ?? 'unknown'}` : 'reactivated'}) is not an unsubscribe`;
      }
      return emailEvent(
        'EmailUnsubscribed',
        src,
        ['unsubscribe', id, recipient, occurredAt.toISOString()],
        {
          ...common,
          recipient,
          providerEventId: null,
          occurredAt,
          // Postmark suppressions are per message stream.
          scope: 'list',
          listId: stream,
        },
      );
    }
    default:
      return `Postmark record "${recordType}" is not a touchpoint`;
  }
}
