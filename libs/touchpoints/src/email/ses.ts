import type { EmailEvent, TouchpointEventDataMap } from '../events';
import { bodyText } from '../internal/headers';
import { FieldReader, isRecord, joinPath, parseJson, type JsonRecord } from '../internal/reader';
import { MappingResultBuilder, type MappingContext, type MappingResult } from '../result';
import { emailEvent } from './email-event';
import { verifySnsMessageOrThrow, type SnsVerificationConfig } from './sns';
import type { WebhookRequest } from './webhook-request';

export type SesWebhookResult =
  /** SNS asks to confirm the subscription: the HTTP layer GETs subscribeUrl (already validated). */
  | {
      readonly kind: 'confirm-subscription';
      readonly topicArn: string;
      readonly subscribeUrl: string;
    }
  | { readonly kind: 'unsubscribed'; readonly topicArn: string }
  | {
      readonly kind: 'events';
      readonly topicArn: string;
      readonly result: MappingResult<EmailEvent>;
    };

/** Verifies the SNS envelope (throws TouchpointError), then maps the SES event it carries. */
export async function receiveSesWebhook(
  request: Pick<WebhookRequest, 'rawBody'>,
  config: SnsVerificationConfig,
  context: MappingContext,
): Promise<SesWebhookResult> {
  const parsed = parseJson(bodyText(request.rawBody));
  const message = await verifySnsMessageOrThrow(
    parsed.ok ? parsed.value : undefined,
    config,
    context.receivedAt,
  );
  switch (message.type) {
    case 'SubscriptionConfirmation':
      return {
        kind: 'confirm-subscription',
        topicArn: message.topicArn,
        subscribeUrl: message.subscribeUrl,
      };
    case 'UnsubscribeConfirmation':
      return { kind: 'unsubscribed', topicArn: message.topicArn };
    case 'Notification': {
      const inner = parseJson(message.message);
      if (!inner.ok) {
        const result = new MappingResultBuilder<EmailEvent>();
        result.reject(
          null,
          message.messageId,
          [{ path: 'Message', rule: 'json', message: inner.message }],
          message.message,
        );
        return { kind: 'events', topicArn: message.topicArn, result: result.build() };
      }
      return {
        kind: 'events',
        topicArn: message.topicArn,
        result: mapSesEvent(inner.value, context),
      };
    }
  }
}

type Common = Omit<
  TouchpointEventDataMap['EmailSent'],
  'recipient' | 'occurredAt' | 'providerEventId'
>;

/**
 * Maps an SES event (event publishing: eventType; or identity notifications: notificationType).
 * One SES event names several recipients: one normalized event per recipient.
 */
export function mapSesEvent(payload: unknown, context: MappingContext): MappingResult<EmailEvent> {
  const result = new MappingResultBuilder<EmailEvent>();
  const r = new FieldReader();
  const o = r.record(payload, '');
  const mail = o === null ? null : r.record(o['mail'], 'mail');
  const messageId = mail === null ? null : r.string(mail, 'messageId', 'mail', 512);
  const itemId =
    isRecord(o?.['mail']) && typeof o['mail']['messageId'] === 'string'
      ? o['mail']['messageId']
      : null;
  if (o === null || mail === null || messageId === null) {
    result.reject(0, itemId, r.errors, payload);
    return result.build();
  }
  const kind = typeof o['eventType'] === 'string' ? o['eventType'] : o['notificationType'];
  const sesTags = r.optionalRecord(mail, 'tags', 'mail');
  const { campaignId, tags } = tagsOf(sesTags, r);
  const common: Common = { provider: 'ses', messageId, campaignId, tags };
  const events: EmailEvent[] = [];
  const src = context.sourceId;
  const destinations = (): { recipient: string; index: number }[] => {
    const list = mail['destination'];
    if (!Array.isArray(list) || list.length === 0) {
      r.fail('mail.destination', 'required', 'must be a non-empty list of addresses');
      return [];
    }
    return list.flatMap((value: unknown, index) => {
      const recipient = r.emailValue(value, joinPath('mail.destination', index));
      return recipient === null ? [] : [{ recipient, index }];
    });
  };
  const section = (name: string): JsonRecord | null => r.record(o[name], name);
  const recipientsOf = (
    s: JsonRecord,
    listName: string,
    base: string,
    objects: boolean,
  ): { recipient: string; item: JsonRecord | null }[] => {
    const list = s[listName];
    const path = joinPath(base, listName);
    if (!Array.isArray(list) || list.length === 0) {
      r.fail(path, 'required', 'must be a non-empty list');
      return [];
    }
    return list.flatMap((value: unknown, i): { recipient: string; item: JsonRecord | null }[] => {
      const itemPath = joinPath(path, i);
      if (!objects) {
        const recipient = r.emailValue(value, itemPath);
        return recipient === null ? [] : [{ recipient, item: null }];
      }
      const item = r.record(value, itemPath);
      const recipient = item === null ? null : r.email(item, 'emailAddress', itemPath);
      return item === null || recipient === null ? [] : [{ recipient, item }];
    });
  };

  switch (kind) {
    case 'Send': {
      const occurredAt = r.isoTimestamp(mail, 'timestamp', 'mail');
      for (const { recipient } of destinations()) {
        if (occurredAt === null) break;
        events.push(
          emailEvent('EmailSent', src, ['send', messageId, recipient], {
            ...common,
            recipient,
            providerEventId: null,
            occurredAt,
          }),
        );
      }
      break;
    }
    case 'Delivery': {
      const s = section('delivery');
      if (s === null) break;
      const occurredAt = r.isoTimestamp(s, 'timestamp', 'delivery');
      const smtpResponse = r.optionalString(s, 'smtpResponse', 'delivery');
      for (const { recipient } of recipientsOf(s, 'recipients', 'delivery', false)) {
        if (occurredAt === null) break;
        events.push(
          emailEvent('EmailDelivered', src, ['delivery', messageId, recipient], {
            ...common,
            recipient,
            providerEventId: null,
            occurredAt,
            smtpResponse,
          }),
        );
      }
      break;
    }
    case 'Bounce': {
      const s = section('bounce');
      if (s === null) break;
      const occurredAt = r.isoTimestamp(s, 'timestamp', 'bounce');
      const feedbackId = r.string(s, 'feedbackId', 'bounce', 512);
      const bounceType = r.oneOf(s, 'bounceType', 'bounce', [
        'Permanent',
        'Transient',
        'Undetermined',
      ]);
      const subType = r.optionalString(s, 'bounceSubType', 'bounce', 128);
      for (const { recipient, item } of recipientsOf(s, 'bouncedRecipients', 'bounce', true)) {
        if (occurredAt === null || feedbackId === null || bounceType === null || item === null)
          break;
        events.push(
          emailEvent('EmailBounced', src, ['bounce', feedbackId, recipient], {
            ...common,
            recipient,
            providerEventId: feedbackId,
            occurredAt,
            // Only Permanent means the address is gone; Undetermined is not enough to suppress it.
            bounceType: bounceType === 'Permanent' ? 'hard' : 'soft',
            providerBounceType: subType === null ? bounceType : `${bounceType}/${subType}`,
            reason:
              r.optionalString(item, 'diagnosticCode', 'bounce.bouncedRecipients') ??
              r.optionalString(item, 'status', 'bounce.bouncedRecipients', 64),
          }),
        );
      }
      break;
    }
    case 'Complaint': {
      const s = section('complaint');
      if (s === null) break;
      const occurredAt = r.isoTimestamp(s, 'timestamp', 'complaint');
      const feedbackId = r.string(s, 'feedbackId', 'complaint', 512);
      const feedbackType = r.optionalString(s, 'complaintFeedbackType', 'complaint', 128);
      for (const { recipient } of recipientsOf(s, 'complainedRecipients', 'complaint', true)) {
        if (occurredAt === null || feedbackId === null) break;
        events.push(
          emailEvent('EmailMarkedAsSpam', src, ['complaint', feedbackId, recipient], {
            ...common,
            recipient,
            providerEventId: feedbackId,
            occurredAt,
            feedbackType,
          }),
        );
      }
      break;
    }
    case 'Open': {
      const s = section('open');
      if (s === null) break;
      const occurredAt = r.isoTimestamp(s, 'timestamp', 'open');
      const client = {
        userAgent: r.optionalString(s, 'userAgent', 'open'),
        ipAddress: r.optionalString(s, 'ipAddress', 'open', 64),
      };
      for (const { recipient } of destinations()) {
        if (occurredAt === null) break;
        const at = occurredAt.toISOString();
        events.push(
          emailEvent('EmailOpened', src, ['open', messageId, recipient, at], {
            ...common,
            recipient,
            providerEventId: null,
            occurredAt,
            ...client,
            machineOpen: null,
          }),
        );
      }
      break;
    }
    case 'Click': {
      const s = section('click');
      if (s === null) break;
      const occurredAt = r.isoTimestamp(s, 'timestamp', 'click');
      const url = r.string(s, 'link', 'click');
      const client = {
        userAgent: r.optionalString(s, 'userAgent', 'click'),
        ipAddress: r.optionalString(s, 'ipAddress', 'click', 64),
      };
      for (const { recipient } of destinations()) {
        if (occurredAt === null || url === null) break;
        events.push(
          emailEvent(
            'EmailLinkClicked',
            src,
            ['click', messageId, recipient, occurredAt.toISOString(), url],
            {
              ...common,
              recipient,
              providerEventId: null,
              occurredAt,
              url,
              ...client,
            },
          ),
        );
      }
      break;
    }
    case 'Reject': {
      const s = section('reject');
      const occurredAt = r.isoTimestamp(mail, 'timestamp', 'mail');
      const reason = s === null ? null : r.optionalString(s, 'reason', 'reject');
      for (const { recipient } of destinations()) {
        if (occurredAt === null) break;
        events.push(
          emailEvent('EmailDropped', src, ['reject', messageId, recipient], {
            ...common,
            recipient,
            providerEventId: null,
            occurredAt,
            reason,
          }),
        );
      }
      break;
    }
    case 'DeliveryDelay': {
      const s = section('deliveryDelay');
      if (s === null) break;
      const occurredAt = r.isoTimestamp(s, 'timestamp', 'deliveryDelay');
      for (const { recipient, item } of recipientsOf(
        s,
        'delayedRecipients',
        'deliveryDelay',
        true,
      )) {
        if (occurredAt === null || item === null) break;
        events.push(
          emailEvent(
            'EmailDeferred',
            src,
            ['delay', messageId, recipient, occurredAt.toISOString()],
            {
              ...common,
              recipient,
              providerEventId: null,
              occurredAt,
              reason:
                r.optionalString(item, 'diagnosticCode', 'deliveryDelay.delayedRecipients') ??
                r.optionalString(s, 'delayType', 'deliveryDelay', 128),
              attempt: null,
            },
          ),
        );
      }
      break;
    }
    case 'Subscription': {
      const s = section('subscription');
      if (s === null) break;
      const occurredAt = r.isoTimestamp(s, 'timestamp', 'subscription');
      const contactList = r.optionalString(s, 'contactList', 'subscription', 256);
      const prefs = r.optionalRecord(s, 'newTopicPreferences', 'subscription');
      const all =
        prefs === null
          ? null
          : r.optionalBoolean(prefs, 'unsubscribeAll', 'subscription.newTopicPreferences');
      const optedOut = prefs === null ? [] : optedOutTopics(prefs, r);
      const scopes: { scope: 'all' | 'list'; listId: string | null }[] =
        all === true
          ? [{ scope: 'all', listId: contactList }]
          : optedOut.map((t) => ({
              scope: 'list',
              listId: contactList === null ? t : `${contactList}/${t}`,
            }));
      if (scopes.length === 0 && r.ok) {
        result.ignore(0, messageId, 'SES subscription change without an opt-out');
        return result.build();
      }
      for (const { recipient } of destinations()) {
        for (const { scope, listId } of scopes) {
          if (occurredAt === null) break;
          events.push(
            emailEvent(
              'EmailUnsubscribed',
              src,
              ['unsubscribe', messageId, recipient, listId ?? '*'],
              {
                ...common,
                recipient,
                providerEventId: null,
                occurredAt,
                scope,
                listId,
              },
            ),
          );
        }
      }
      break;
    }
    default:
      if (typeof kind !== 'string') {
        r.fail('eventType', 'required', 'an SES event has eventType or notificationType');
        break;
      }
      result.ignore(0, messageId, `SES event "${kind}" is not a touchpoint`);
      return result.build();
  }
  if (!r.ok) result.reject(0, messageId, r.errors, payload);
  else result.events.push(...events);
  return result.build();
}

/** campaign_id tag is the campaign; other user tags (not ses:*) become "name:value" tags. */
function tagsOf(
  sesTags: JsonRecord | null,
  r: FieldReader,
): { campaignId: string | null; tags: string[] } {
  if (sesTags === null) return { campaignId: null, tags: [] };
  let campaignId: string | null = null;
  const tags: string[] = [];
  for (const key of Object.keys(sesTags).slice(0, 50)) {
    const values = r.optionalStringArray(sesTags, key, 'mail.tags');
    if (key === 'campaign_id') campaignId = values[0] ?? null;
    else if (!key.startsWith('ses:')) tags.push(...values.map((v) => `${key}:${v}`));
  }
  return { campaignId, tags };
}

function optedOutTopics(prefs: JsonRecord, r: FieldReader): string[] {
  const list = prefs['topicSubscriptionStatus'];
  if (!Array.isArray(list)) return [];
  return list.flatMap((value: unknown, i) => {
    const item = r.record(value, `subscription.newTopicPreferences.topicSubscriptionStatus[${i}]`);
    if (item === null || item['subscriptionStatus'] !== 'OptOut') return [];
    const name = r.string(
      item,
      'topicName',
      `subscription.newTopicPreferences.topicSubscriptionStatus[${i}]`,
      256,
    );
    return name === null ? [] : [name];
  });
}
