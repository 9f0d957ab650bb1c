import { touchpointEventId } from '../event-id';
import { touchpointEvent, type CallDirection, type TouchpointEventOf } from '../events';
import type { CountryCode } from '../identifiers/phone';
import { FieldReader, isRecord } from '../internal/reader';
import { MappingResultBuilder, type MappingContext, type MappingResult } from '../result';
import { partyOrNull } from './phone-values';
import { singleValues, verifyTwilioSignatureOrThrow, type TwilioRequest } from './twilio-signature';

export interface TwilioWebhookConfig {
  /** Primary and, during rotation, secondary auth token. */
  readonly authTokens: string | readonly string[];
  /** Country for numbers Twilio sends without a prefix (rare: Twilio sends E.164). */
  readonly defaultCountry?: CountryCode;
  /**
   * Child legs (a <Dial> from a call: ParentCallSid set) are by default ignored: forwarding a
   * customer's call to an agent's phone would otherwise record the agent's number as a customer.
   */
  readonly childLegs?: 'ignore' | 'map';
}

export type CallEvent = TouchpointEventOf<
  'CallStarted' | 'CallAnswered' | 'CallEnded' | 'CallMissed' | 'VoicemailLeft'
>;
export type SmsEvent = TouchpointEventOf<'SmsReceived' | 'SmsSent' | 'SmsDelivered' | 'SmsFailed'>;

export function receiveTwilioVoiceStatus(
  request: TwilioRequest,
  config: TwilioWebhookConfig,
  context: MappingContext,
): MappingResult<CallEvent> {
  return mapTwilioVoiceStatus(
    singleValues(verifyTwilioSignatureOrThrow(request, config.authTokens)),
    context,
    config,
  );
}

export function receiveTwilioIncomingSms(
  request: TwilioRequest,
  config: TwilioWebhookConfig,
  context: MappingContext,
): MappingResult<SmsEvent> {
  return mapTwilioIncomingSms(
    singleValues(verifyTwilioSignatureOrThrow(request, config.authTokens)),
    context,
    config,
  );
}

export function receiveTwilioSmsStatus(
  request: TwilioRequest,
  config: TwilioWebhookConfig,
  context: MappingContext,
): MappingResult<SmsEvent> {
  return mapTwilioSmsStatus(
    singleValues(verifyTwilioSignatureOrThrow(request, config.authTokens)),
    context,
    config,
  );
}

const CALL_STATUSES = [
  'queued',
  'initiated',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'no-answer',
  'canceled',
  'failed',
] as const;
const DIRECTIONS: Readonly<Record<string, CallDirection>> = {
  inbound: 'inbound',
  'outbound-api': 'outbound',
  'outbound-dial': 'outbound',
  // Trunking: originating = from your SIP trunk out to the phone network; terminating = into it.
  'trunking-originating': 'outbound',
  'trunking-terminating': 'inbound',
};

type Options = Pick<TwilioWebhookConfig, 'defaultCountry' | 'childLegs'>;

function single<E extends CallEvent | SmsEvent>(
  params: unknown,
  idKey: string,
  map: (r: FieldReader, p: Readonly<Record<string, unknown>>) => E | string | null,
): MappingResult<E> {
  const result = new MappingResultBuilder<E>();
  const r = new FieldReader();
  const p = r.record(params, '');
  const itemId = isRecord(params) && typeof params[idKey] === 'string' ? params[idKey] : null;
  const outcome = p === null ? null : map(r, p);
  if (!r.ok) result.reject(0, itemId, r.errors, params);
  else if (typeof outcome === 'string') result.ignore(0, itemId, outcome);
  else if (outcome !== null) result.events.push(outcome);
  return result.build();
}

/** Maps a voice status callback to the call lifecycle. */
export function mapTwilioVoiceStatus(
  params: unknown,
  context: MappingContext,
  options: Options = {},
): MappingResult<CallEvent> {
  return single<CallEvent>(params, 'CallSid', (r, p) => {
    const callSid = r.string(p, 'CallSid', '', 64);
    const status = r.oneOf(p, 'CallStatus', '', CALL_STATUSES);
    const rawDirection = r.oneOf(p, 'Direction', '', Object.keys(DIRECTIONS));
    // Twilio sends Timestamp with status callback events; the plain completion callback has none.
    const occurredAt = r.optionalRfc2822(p, 'Timestamp', '') ?? context.receivedAt;
    const parent = r.optionalString(p, 'ParentCallSid', '', 64);
    if (callSid === null || status === null || rawDirection === null) return null;
    if (parent !== null && (options.childLegs ?? 'ignore') === 'ignore')
      return `child leg of call ${parent}`;
    const direction = DIRECTIONS[rawDirection] ?? 'inbound';
    const from = partyOrNull(p['From'], options.defaultCountry);
    const to = partyOrNull(p['To'], options.defaultCountry);
    const customerPhone = direction === 'inbound' ? from : to;
    const data = {
      provider: 'twilio' as const,
      callId: callSid,
      direction,
      from,
      to,
      customerPhone,
      customerExternalId: null,
      agentId: null,
      agentName: null,
      queue: null,
      ivrPath: [],
      topic: null,
      occurredAt,
    };
    const identifiers = { email: null, phone: customerPhone, externalId: null };
    // One id per lifecycle stage: initiated and ringing are both "started", and a call either
    // ends or is missed, so retries and overlapping callbacks collapse to one event each.
    const id = (stage: string): string =>
      touchpointEventId('phone', context.sourceId, 'twilio', callSid, stage);
    switch (status) {
      case 'queued':
        return 'queued: the call has not started';
      case 'initiated':
      case 'ringing':
        return touchpointEvent('CallStarted', id('started'), identifiers, {
          ...data,
          providerStatus: status,
        });
      case 'in-progress':
        return touchpointEvent('CallAnswered', id('answered'), identifiers, data);
      case 'completed': {
        const durationSeconds = r.count(p, 'CallDuration', '');
        if (durationSeconds === null) return null;
        return touchpointEvent('CallEnded', id('ended'), identifiers, {
          ...data,
          durationSeconds,
          disposition: 'completed',
        });
      }
      case 'busy':
      case 'no-answer':
      case 'canceled':
      case 'failed':
        return touchpointEvent('CallMissed', id('ended'), identifiers, { ...data, reason: status });
    }
  });
}

/** Maps an incoming message webhook to SmsReceived. Twilio sends no event time: the receive time is used. */
export function mapTwilioIncomingSms(
  params: unknown,
  context: MappingContext,
  options: Options = {},
): MappingResult<SmsEvent> {
  return single<SmsEvent>(params, 'MessageSid', (r, p) => {
    const messageSid = r.string(p, 'MessageSid', '', 64);
    const body = p['Body'] === undefined ? '' : r.optionalString(p, 'Body', '', 1600);
    const mediaCount = r.optionalCount(p, 'NumMedia', '', 10) ?? 0;
    if (messageSid === null) return null;
    const from = partyOrNull(p['From'], options.defaultCountry);
    return touchpointEvent(
      'SmsReceived',
      touchpointEventId('phone', context.sourceId, 'twilio', 'sms', messageSid, 'received'),
      { email: null, phone: from, externalId: null },
      {
        provider: 'twilio',
        messageId: messageSid,
        from,
        to: partyOrNull(p['To'], options.defaultCountry),
        customerPhone: from,
        occurredAt: context.receivedAt,
        body: body ?? '',
        mediaCount,
      },
    );
  });
}

const SMS_STATUSES = [
  'accepted',
  'scheduled',
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'read',
  'canceled',
  'receiving',
  'received',
  'partially_delivered',
] as const;

/** Maps an outbound message status callback: sent, delivered, failed/undelivered. */
export function mapTwilioSmsStatus(
  params: unknown,
  context: MappingContext,
  options: Options = {},
): MappingResult<SmsEvent> {
  return single<SmsEvent>(params, 'MessageSid', (r, p) => {
    const messageSid = r.string(p, 'MessageSid', '', 64);
    const status = r.oneOf(p, 'MessageStatus', '', SMS_STATUSES);
    const errorCode = r.optionalString(p, 'ErrorCode', '', 16);
    if (messageSid === null || status === null) return null;
    const to = partyOrNull(p['To'], options.defaultCountry);
    const data = {
      provider: 'twilio' as const,
      messageId: messageSid,
      from: partyOrNull(p['From'], options.defaultCountry),
      to,
      customerPhone: to,
      occurredAt: context.receivedAt,
    };
    const identifiers = { email: null, phone: to, externalId: null };
    const id = (stage: string): string =>
      touchpointEventId('phone', context.sourceId, 'twilio', 'sms', messageSid, stage);
    switch (status) {
      case 'sent':
        return touchpointEvent('SmsSent', id('sent'), identifiers, data);
      case 'delivered':
        return touchpointEvent('SmsDelivered', id('delivered'), identifiers, data);
      case 'failed':
      case 'undelivered':
        return touchpointEvent('SmsFailed', id('failed'), identifiers, {
          ...data,
          status,
          errorCode,
        });
      case 'accepted':
      case 'scheduled':
      case 'queued':
      case 'sending':
      case 'read':
      case 'canceled':
      case 'receiving':
      case 'received':
      case 'partially_delivered':
        return `SMS status "${status}" is not a touchpoint`;
    }
  });
}
