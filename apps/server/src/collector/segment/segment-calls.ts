import type { Channel } from '@touchline/contracts';
import {
  type BatchDefaults,
  type FieldError,
  isJsonObject,
  MessageReader,
  type Parsed,
  readCommonFields,
  streamIdFor,
} from './segment-message';

/** A Segment call turned into one of our event types, ready to validate against its schema. */
export interface MappedEvent {
  readonly type: string;
  readonly schemaVersion: number;
  readonly channel: Channel;
  readonly messageId: string;
  readonly streamId: string;
  readonly occurredAt: Date;
  readonly data: Record<string, unknown>;
  /** What the touchpoint was about, for logs and the activity summary. */
  readonly name: string | null;
}

export const SUPPORTED_CALLS = ['track'] as const;

export interface MapContext {
  readonly receivedAt: Date;
  readonly defaults: BatchDefaults;
  readonly newMessageId: () => string;
}

const MAX_EVENT_NAME_LENGTH = 200;

function mapTrack(message: Record<string, unknown>, ctx: MapContext): Parsed<MappedEvent> {
  const reader = new MessageReader(message);
  const common = readCommonFields(reader, ctx.defaults, ctx.receivedAt, ctx.newMessageId);
  const event = reader.requiredString('event', MAX_EVENT_NAME_LENGTH);
  const properties = reader.object('properties');
  if (reader.errors.length > 0) return { ok: false, errors: reader.errors };
  return {
    ok: true,
    value: {
      type: 'WebEventTracked',
      schemaVersion: 1,
      channel: 'web',
      messageId: common.messageId,
      streamId: streamIdFor(common),
      occurredAt: common.occurredAt,
      name: event,
      data: {
        messageId: common.messageId,
        userId: common.userId,
        anonymousId: common.anonymousId,
        event,
        properties,
        context: common.context,
        integrations: common.integrations,
        timestamp: common.occurredAt,
        sentAt: common.sentAt,
        originalTimestamp: common.originalTimestamp,
      },
    },
  };
}

/**
 * Map one Segment call. `impliedType` is the endpoint's call type (`/v1/track` implies track);
 * in a batch each message names its own `type`.
 */
export function mapSegmentCall(message: unknown, impliedType: string | null, ctx: MapContext): Parsed<MappedEvent> {
  if (!isJsonObject(message)) {
    return { ok: false, errors: [{ field: '(message)', rule: 'json-object', message: 'each message must be a JSON object' }] };
  }
  const type = impliedType ?? message['type'];
  if (typeof type !== 'string') {
    return { ok: false, errors: [{ field: 'type', rule: 'required', message: 'type is required (track, identify, page, ...)' }] };
  }
  switch (type) {
    case 'track':
      return mapTrack(message, ctx);
    default: {
      const error: FieldError = {
        field: 'type',
        rule: 'supported-type',
        message: `type "${type.slice(0, 40)}" is not supported; supported: ${SUPPORTED_CALLS.join(', ')}`,
      };
      return { ok: false, errors: [error] };
    }
  }
}
