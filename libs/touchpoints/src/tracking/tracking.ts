import { createHmac } from 'node:crypto';

import { TouchpointError } from '../errors';
import { touchpointEventId } from '../event-id';
import { touchpointEvent, type TouchpointEventOf } from '../events';
import { normalizeEmail } from '../identifiers/email';
import { constantTimeEqual, secretsList } from '../internal/crypto';

/** One secret, or several for rotation: the first signs, any of them verifies. */
export type TrackingSecrets = string | readonly string[];

export interface TrackedLinkInput {
  /** Where the click goes: an absolute http(s) URL. */
  readonly url: string;
  readonly recipient: string;
  readonly campaignId: string | null;
  readonly messageId: string;
}
export type OpenPixelInput = Omit<TrackedLinkInput, 'url'>;

export interface VerifiedTrackedLink {
  readonly url: string;
  /** Normalized address. */
  readonly recipient: string;
  readonly campaignId: string | null;
  readonly messageId: string;
  /** The verified signature: identifies the link, used in event ids. */
  readonly signature: string;
}
export type VerifiedOpenPixel = Omit<VerifiedTrackedLink, 'url'>;

/** Query parameters of a tracked link or pixel; `query` is them encoded, ready to append after `?`. */
export interface SignedTracking {
  readonly params: Readonly<Record<string, string>>;
  readonly query: string;
}

/** Query parameters as frameworks give them, or URLSearchParams. */
export type TrackingQuery =
  URLSearchParams | Readonly<Record<string, string | readonly string[] | undefined>>;

type Kind = 'link' | 'pixel';
const VERSION = '1';
const MAX_URL_LENGTH = 4096;
const MAX_ID_LENGTH = 256;

/** A 1x1 transparent GIF for the open pixel's answer. */
export const OPEN_PIXEL_GIF: Buffer = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  'base64',
);

export function signTrackedLink(input: TrackedLinkInput, secrets: TrackingSecrets): SignedTracking {
  const url = safeUrlOrThrow(input.url);
  return sign('link', { ...checkedFieldsOrThrow(input), url }, secrets);
}

export function signOpenPixel(input: OpenPixelInput, secrets: TrackingSecrets): SignedTracking {
  return sign('pixel', { ...checkedFieldsOrThrow(input), url: null }, secrets);
}

/**
 * Checks a tracked link's parameters and returns where to redirect. Throws INVALID_LINK,
 * INVALID_SIGNATURE or UNSAFE_URL: the caller answers 400/403 and never redirects.
 */
export function verifyTrackedLinkOrThrow(
  query: TrackingQuery,
  secrets: TrackingSecrets,
): VerifiedTrackedLink {
  const fields = verify('link', query, secrets);
  if (fields.url === null) throw new TouchpointError('INVALID_LINK', 'the link has no target URL');
  // Checked again although signed: a link signed by an older release must still be safe to follow.
  return { ...fields, url: safeUrlOrThrow(fields.url) };
}

export function verifyOpenPixelOrThrow(
  query: TrackingQuery,
  secrets: TrackingSecrets,
): VerifiedOpenPixel {
  const { url: _url, ...fields } = verify('pixel', query, secrets);
  return fields;
}

/** What the HTTP layer knows about a click or open request. */
export interface TrackingRequest {
  readonly sourceId: string;
  readonly receivedAt: Date;
  /**
   * A fresh id per request: every click or open is its own touchpoint (there is no provider
   * retry to collapse), while a redelivery of the same request through the pipeline keeps its id.
   */
  readonly requestId: string;
  readonly userAgent?: string | null;
  readonly ipAddress?: string | null;
}

export function trackedLinkClickedEvent(
  link: VerifiedTrackedLink,
  request: TrackingRequest,
): TouchpointEventOf<'EmailLinkClicked'> {
  return touchpointEvent(
    'EmailLinkClicked',
    touchpointEventId('touchline', request.sourceId, 'click', link.signature, request.requestId),
    { email: link.recipient, phone: null, externalId: null },
    {
      provider: 'touchline',
      recipient: link.recipient,
      messageId: link.messageId,
      providerEventId: request.requestId,
      campaignId: link.campaignId,
      tags: [],
      occurredAt: request.receivedAt,
      url: link.url,
      userAgent: request.userAgent ?? null,
      ipAddress: request.ipAddress ?? null,
    },
  );
}

export function openPixelOpenedEvent(
  pixel: VerifiedOpenPixel,
  request: TrackingRequest,
): TouchpointEventOf<'EmailOpened'> {
  return touchpointEvent(
    'EmailOpened',
    touchpointEventId('touchline', request.sourceId, 'open', pixel.signature, request.requestId),
    { email: pixel.recipient, phone: null, externalId: null },
    {
      provider: 'touchline',
      recipient: pixel.recipient,
      messageId: pixel.messageId,
      providerEventId: request.requestId,
      campaignId: pixel.campaignId,
      tags: [],
      occurredAt: request.receivedAt,
      userAgent: request.userAgent ?? null,
      ipAddress: request.ipAddress ?? null,
      machineOpen: null,
    },
  );
}

// ---- internals --------------------------------------------------------------------------------

interface Fields {
  readonly url: string | null;
  readonly recipient: string;
  readonly campaignId: string | null;
  readonly messageId: string;
}

function checkedFieldsOrThrow(input: OpenPixelInput): Omit<Fields, 'url'> {
  const recipient = normalizeEmail(input.recipient);
  if (!recipient.ok) throw new TouchpointError('INVALID_LINK', `recipient: ${recipient.message}`);
  if (!isId(input.messageId))
    throw new TouchpointError(
      'INVALID_LINK',
      'messageId must be a non-empty string of at most 256 characters',
    );
  if (input.campaignId !== null && !isId(input.campaignId)) {
    throw new TouchpointError(
      'INVALID_LINK',
      'campaignId must be null or a non-empty string of at most 256 characters',
    );
  }
  return { recipient: recipient.value, campaignId: input.campaignId, messageId: input.messageId };
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

/** Only absolute http(s) URLs without credentials: no javascript:, data:, or user@host tricks. */
function safeUrlOrThrow(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_URL_LENGTH) {
    throw new TouchpointError(
      'UNSAFE_URL',
      `the target must be a URL of at most ${MAX_URL_LENGTH} characters`,
    );
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TouchpointError('UNSAFE_URL', 'the target is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TouchpointError('UNSAFE_URL', 'the target must be an http or https URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw new TouchpointError('UNSAFE_URL', 'the target must not carry credentials');
  }
  return raw;
}

/**
 * Unambiguous encoding of what is signed: the kind (a pixel signature is no link signature),
 * the version, then each field length-prefixed, null distinct from any string.
 */
function canonical(kind: Kind, fields: Fields): string {
  const part = (value: string | null): string =>
    value === null ? '-\n' : `${Buffer.byteLength(value)}:${value}\n`;
  return `touchline-tracking\n${kind}\nv${VERSION}\n${part(fields.url)}${part(fields.recipient)}${part(fields.campaignId)}${part(fields.messageId)}`;
}

function mac(secret: string, kind: Kind, fields: Fields): string {
  return createHmac('sha256', secret).update(canonical(kind, fields)).digest('base64url');
}

function sign(kind: Kind, fields: Fields, secrets: TrackingSecrets): SignedTracking {
  const [secret] = secretsList(secrets, 'tracking');
  const params: Record<string, string> = { v: VERSION };
  if (fields.url !== null) params['u'] = fields.url;
  params['r'] = fields.recipient;
  if (fields.campaignId !== null) params['c'] = fields.campaignId;
  params['m'] = fields.messageId;
  params['s'] = mac(secret!, kind, fields);
  return { params, query: new URLSearchParams(params).toString() };
}

function single(query: TrackingQuery, key: string): string | null {
  if (query instanceof URLSearchParams) {
    const all = query.getAll(key);
    if (all.length > 1) throw new TouchpointError('INVALID_LINK', `parameter ${key} is repeated`);
    return all[0] ?? null;
  }
  const value = Object.prototype.hasOwnProperty.call(query, key) ? query[key] : undefined;
  if (value === undefined) return null;
  if (typeof value === 'string') return value;
  // A repeated parameter is a way to make the checked and the used value differ: refused.
  if (value.length === 1 && typeof value[0] === 'string') return value[0];
  throw new TouchpointError('INVALID_LINK', `parameter ${key} is repeated`);
}

function verify(
  kind: Kind,
  query: TrackingQuery,
  secrets: TrackingSecrets,
): Fields & { signature: string } {
  const list = secretsList(secrets, 'tracking');
  if (typeof query !== 'object' || query === null)
    throw new TouchpointError('INVALID_LINK', 'no parameters');
  const signature = single(query, 's');
  if (signature === null || signature === '')
    throw new TouchpointError('MISSING_SIGNATURE', 'the link is not signed');
  if (single(query, 'v') !== VERSION)
    throw new TouchpointError('INVALID_LINK', 'unknown link version');
  const recipient = single(query, 'r');
  const messageId = single(query, 'm');
  if (recipient === null || messageId === null)
    throw new TouchpointError('INVALID_LINK', 'the link lacks its recipient or message');
  const url = kind === 'link' ? single(query, 'u') : null;
  if (kind === 'link' && url === null)
    throw new TouchpointError('INVALID_LINK', 'the link has no target URL');
  const fields: Fields = { url, recipient, campaignId: single(query, 'c'), messageId };
  // Every key is tried (no early exit) so timing does not tell which key matched.
  let valid = false;
  for (const secret of list)
    valid = constantTimeEqual(mac(secret, kind, fields), signature) || valid;
  if (!valid) throw new TouchpointError('INVALID_SIGNATURE', 'the link signature does not verify');
  return { ...fields, signature };
}
