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

export interface MapContext {
  readonly receivedAt: Date;
  readonly defaults: BatchDefaults;
  readonly newMessageId: () => string;
}

const MAX_NAME_LENGTH = 200;

/** How each Segment call type maps onto our event type: the fields beyond the common ones. */
interface CallMapping {
  readonly type: string;
  readonly schemaVersion: number;
  readonly readFields: (reader: MessageReader) => Record<string, unknown>;
  /** What the touchpoint was about. */
  readonly nameOf: (fields: Record<string, unknown>) => string | null;
}

const CALLS = {
  track: {
    type: 'WebEventTracked',
    schemaVersion: 1,
    readFields: (reader) => ({
      event: reader.requiredString('event', MAX_NAME_LENGTH),
      properties: reader.object('properties'),
    }),
    nameOf: (fields) => fields['event'] as string,
  },
  page: {
    type: 'WebPageViewed',
    schemaVersion: 1,
    readFields: (reader) => ({
      category: reader.optionalString('category', MAX_NAME_LENGTH),
      name: reader.optionalString('name', MAX_NAME_LENGTH),
      properties: reader.object('properties'),
    }),
    nameOf: (fields) => (fields['name'] as string | null) ?? null,
  },
  identify: {
    type: 'UserIdentified',
    schemaVersion: 1,
    readFields: (reader) => ({ traits: reader.object('traits') }),
    nameOf: () => null,
  },
  screen: {
    type: 'ScreenViewed',
    schemaVersion: 1,
    readFields: (reader) => ({
      category: reader.optionalString('category', MAX_NAME_LENGTH),
      name: reader.optionalString('name', MAX_NAME_LENGTH),
      properties: reader.object('properties'),
    }),
    nameOf: (fields) => (fields['name'] as string | null) ?? null,
  },
  group: {
    type: 'GroupIdentified',
    schemaVersion: 1,
    readFields: (reader) => ({
      groupId: reader.requiredString('groupId'),
      traits: reader.object('traits'),
    }),
    nameOf: () => null,
  },
  alias: {
    type: 'UserAliased',
    schemaVersion: 1,
    readFields: (reader) => {
      // An alias names the user it merges into: userId is required, not just one of the ids.
      if (reader.optionalString('userId') === null)
        reader.fail('userId', 'required', 'userId is required for alias');
      return { previousId: reader.requiredString('previousId') };
    },
    nameOf: () => null,
  },
} satisfies Record<string, CallMapping>;

export type SupportedCall = keyof typeof CALLS;
export const SUPPORTED_CALLS = Object.keys(CALLS) as SupportedCall[];

function isSupportedCall(type: string): type is SupportedCall {
  return Object.prototype.hasOwnProperty.call(CALLS, type);
}

function mapCall(
  mapping: CallMapping,
  message: Record<string, unknown>,
  ctx: MapContext,
): Parsed<MappedEvent> {
  const reader = new MessageReader(message);
  const common = readCommonFields(reader, ctx.defaults, ctx.receivedAt, ctx.newMessageId);
  const fields = mapping.readFields(reader);
  if (reader.errors.length > 0) return { ok: false, errors: reader.errors };
  return {
    ok: true,
    value: {
      type: mapping.type,
      schemaVersion: mapping.schemaVersion,
      channel: 'web',
      messageId: common.messageId,
      streamId: streamIdFor(common),
      occurredAt: common.occurredAt,
      name: mapping.nameOf(fields),
      data: {
        messageId: common.messageId,
        userId: common.userId,
        anonymousId: common.anonymousId,
        ...fields,
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
export function mapSegmentCall(
  message: unknown,
  impliedType: string | null,
  ctx: MapContext,
): Parsed<MappedEvent> {
  if (!isJsonObject(message)) {
    return {
      ok: false,
      errors: [
        { field: '(message)', rule: 'json-object', message: 'each message must be a JSON object' },
      ],
    };
  }
  const type = impliedType ?? message['type'];
  if (typeof type !== 'string') {
    return {
      ok: false,
      errors: [
        {
          field: 'type',
          rule: 'required',
          message: 'type is required (track, identify, page, ...)',
        },
      ],
    };
  }
  if (!isSupportedCall(type)) {
    const error: FieldError = {
      field: 'type',
      rule: 'supported-type',
      message: `type "${type.slice(0, 40)}" is not supported; supported: ${SUPPORTED_CALLS.join(', ')}`,
    };
    return { ok: false, errors: [error] };
  }
  return mapCall(CALLS[type], message, ctx);
}
