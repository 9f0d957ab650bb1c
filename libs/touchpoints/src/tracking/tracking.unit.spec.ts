import { randomUUID } from 'node:crypto';

import {
  OPEN_PIXEL_GIF,
  openPixelOpenedEvent,
  signOpenPixel,
  signTrackedLink,
  trackedLinkClickedEvent,
  TouchpointError,
  verifyOpenPixelOrThrow,
  verifyTrackedLinkOrThrow,
} from '../index';
import { catalogMismatches } from '../testing';

const secret = () => randomUUID();
const link = {
  url: 'https://shop.example.com/sale?utm_source=email',
  recipient: ' Jane@Example.com ',
  campaignId: 'spring-sale',
  messageId: 'msg-1',
};

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error: unknown) {
    if (error instanceof TouchpointError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('tracked links', () => {
  it('round-trips through a query string, with the recipient normalized', () => {
    const key = secret();
    const { query } = signTrackedLink(link, key);
    const verified = verifyTrackedLinkOrThrow(new URLSearchParams(query), key);
    expect(verified).toMatchObject({
      url: link.url,
      recipient: 'jane@example.com',
      campaignId: 'spring-sale',
      messageId: 'msg-1',
    });
  });

  it('keeps a null campaign distinct from any string', () => {
    const key = secret();
    const { params } = signTrackedLink({ ...link, campaignId: null }, key);
    expect(verifyTrackedLinkOrThrow(params, key).campaignId).toBeNull();
    expect(codeOf(() => verifyTrackedLinkOrThrow({ ...params, c: '' }, key))).toBe(
      'INVALID_SIGNATURE',
    );
    expect(codeOf(() => verifyTrackedLinkOrThrow({ ...params, c: '-' }, key))).toBe(
      'INVALID_SIGNATURE',
    );
  });

  it('refuses a tampered target, recipient, campaign or message', () => {
    const key = secret();
    const { params } = signTrackedLink(link, key);
    for (const [field, value] of [
      ['u', 'https://evil.example.net/'],
      ['r', 'john@example.com'],
      ['c', 'other'],
      ['m', 'msg-2'],
      ['s', params['s']!.slice(0, -2) + 'AA'],
    ]) {
      expect(codeOf(() => verifyTrackedLinkOrThrow({ ...params, [field!]: value }, key))).toBe(
        'INVALID_SIGNATURE',
      );
    }
  });

  it('refuses an unsigned link, a wrong key, a repeated parameter, and a missing target', () => {
    const key = secret();
    const { params } = signTrackedLink(link, key);
    const { s: _s, ...unsigned } = params;
    expect(codeOf(() => verifyTrackedLinkOrThrow(unsigned, key))).toBe('MISSING_SIGNATURE');
    expect(codeOf(() => verifyTrackedLinkOrThrow(params, secret()))).toBe('INVALID_SIGNATURE');
    expect(
      codeOf(() =>
        verifyTrackedLinkOrThrow({ ...params, u: [link.url, 'https://evil.example.net/'] }, key),
      ),
    ).toBe('INVALID_LINK');
    const { u: _u, ...noTarget } = params;
    expect(codeOf(() => verifyTrackedLinkOrThrow(noTarget, key))).toBe('INVALID_LINK');
    expect(codeOf(() => verifyTrackedLinkOrThrow({ ...params, v: '2' }, key))).toBe('INVALID_LINK');
  });

  it('rotates keys: signs with the first, verifies with any', () => {
    const [oldKey, newKey] = [secret(), secret()];
    const before = signTrackedLink(link, oldKey);
    const after = signTrackedLink(link, [newKey, oldKey]);
    expect(verifyTrackedLinkOrThrow(before.params, [newKey, oldKey]).url).toBe(link.url);
    expect(verifyTrackedLinkOrThrow(after.params, newKey).url).toBe(link.url);
    expect(codeOf(() => verifyTrackedLinkOrThrow(after.params, oldKey))).toBe('INVALID_SIGNATURE');
  });

  it.each([
    'javascript:alert(1)',
    'data:text/html,hi',
    'ftp://example.com/',
    '//evil.example.net',
    'https://bank.example@evil.example.net/',
    '/relative',
  ])('refuses to sign %j as a target', (url) => {
    expect(codeOf(() => signTrackedLink({ ...link, url }, secret()))).toBe('UNSAFE_URL');
  });

  it('refuses to sign for something that is not an address, and refuses no secret', () => {
    expect(codeOf(() => signTrackedLink({ ...link, recipient: 'nobody' }, secret()))).toBe(
      'INVALID_LINK',
    );
    expect(codeOf(() => signTrackedLink(link, []))).toBe('INVALID_CONFIGURATION');
  });

  it('gives a pixel signature no power as a link signature', () => {
    const key = secret();
    const pixel = signOpenPixel(link, key);
    expect(
      codeOf(() =>
        verifyTrackedLinkOrThrow({ ...pixel.params, u: 'https://evil.example.net/' }, key),
      ),
    ).toBe('INVALID_SIGNATURE');
    const linkParams = signTrackedLink(link, key).params;
    expect(codeOf(() => verifyOpenPixelOrThrow(linkParams, key))).toBe('INVALID_SIGNATURE');
  });

  it('produces EmailLinkClicked and EmailOpened events tied to recipient, campaign and message', () => {
    const key = secret();
    const sourceId = randomUUID();
    const receivedAt = new Date('2024-05-01T10:00:00Z');
    const click = trackedLinkClickedEvent(
      verifyTrackedLinkOrThrow(signTrackedLink(link, key).params, key),
      {
        sourceId,
        receivedAt,
        requestId: 'req-1',
        userAgent: 'Mozilla/5.0',
      },
    );
    expect(click).toMatchObject({
      type: 'EmailLinkClicked',
      channel: 'email',
      occurredAt: receivedAt,
      identifiers: { email: 'jane@example.com' },
    });
    expect(click.data).toMatchObject({
      provider: 'touchline',
      url: link.url,
      campaignId: 'spring-sale',
      messageId: 'msg-1',
      userAgent: 'Mozilla/5.0',
    });
    expect(catalogMismatches(click)).toEqual([]);
    const again = trackedLinkClickedEvent(
      verifyTrackedLinkOrThrow(signTrackedLink(link, key).params, key),
      { sourceId, receivedAt, requestId: 'req-1' },
    );
    expect(again.eventId).toBe(click.eventId);

    const open = openPixelOpenedEvent(
      verifyOpenPixelOrThrow(signOpenPixel(link, key).params, key),
      { sourceId, receivedAt, requestId: 'req-2' },
    );
    expect(open).toMatchObject({
      type: 'EmailOpened',
      data: { recipient: 'jane@example.com', messageId: 'msg-1' },
    });
    expect(open.eventId).not.toBe(click.eventId);
    expect(catalogMismatches(open)).toEqual([]);
    expect(OPEN_PIXEL_GIF.subarray(0, 6).toString('ascii')).toBe('GIF89a');
  });
});
