import { SCHEMA_REGISTRY, type WebEventTrackedV1 } from '@touchline/contracts';
import { identifiersOfEvent } from '../../recorder/recorder';
import { consentStatementsOf } from './consent-history.projection';
import { currentConsentOf } from './consent.controller';
import {
  CONSENT_PURPOSES,
  CONSENT_SOURCES,
  consentChangedFromTrack,
  isConsentTrack,
  purposeOfSegmentCategory,
} from './consent-statement';
import { canonicalSuppressedIdentifier, IdentifierHasher } from './suppression-list';

const track = (properties: WebEventTrackedV1['properties']): WebEventTrackedV1 => ({
  messageId: 'm-1',
  userId: 'u-1',
  anonymousId: null,
  event: 'ConsentChanged',
  properties,
  context: { ip: '203.0.113.9' },
  integrations: {},
  timestamp: new Date('2026-05-01T10:00:00.000Z'),
  sentAt: null,
  originalTimestamp: null,
});

describe('consent statements', () => {
  it('lists exactly the purposes and sources the ConsentChanged schema allows', () => {
    const fields = SCHEMA_REGISTRY.event('ConsentChanged', 1)!.source.schema['fields'] as {
      name: string;
      type: { allowed?: string[] };
    }[];
    const allowed = (name: string) => fields.find((f) => f.name === name)?.type.allowed;
    expect(allowed('purpose')).toEqual([...CONSENT_PURPOSES]);
    expect(allowed('source')).toEqual([...CONSENT_SOURCES]);
  });

  it('maps a track named ConsentChanged or "Consent Changed", normalizing the address', () => {
    expect(isConsentTrack('ConsentChanged')).toBe(true);
    expect(isConsentTrack('Consent Changed')).toBe(true);
    expect(isConsentTrack('consent changed')).toBe(false);
    const built = consentChangedFromTrack(
      track({
        purpose: 'email_marketing',
        granted: false,
        source: 'email-link',
        email: ' Ada@Example.COM ',
      }),
    );
    expect(built).toMatchObject({
      ok: true,
      value: {
        userId: 'u-1',
        purpose: 'email_marketing',
        granted: false,
        source: 'email-link',
        email: 'ada@example.com',
        phone: null,
        note: null,
        properties: { purpose: 'email_marketing', email: ' Ada@Example.COM ' },
      },
    });
  });

  it('refuses a statement without purpose, granted or source, naming each property', () => {
    const built = consentChangedFromTrack(
      track({ purpose: 'newsletters', granted: 'yes', phone: '12' }),
    );
    expect(built.ok).toBe(false);
    if (built.ok) return;
    expect(built.errors.map((e) => [e.path, e.rule])).toEqual([
      ['properties.purpose', 'enum'],
      ['properties.granted', 'type'],
      ['properties.source', 'required'],
      ['properties.phone', 'type'],
    ]);
    expect(JSON.stringify(built.errors)).not.toContain('newsletters');
  });

  it('reads Segment consent categories that name a purpose, and only those', () => {
    expect(purposeOfSegmentCategory('Analytics')).toBe('analytics');
    expect(purposeOfSegmentCategory('Email Marketing')).toBe('email_marketing');
    expect(purposeOfSegmentCategory('phone-marketing')).toBe('phone_marketing');
    expect(purposeOfSegmentCategory('Advertising')).toBeNull();
    expect(
      consentStatementsOf({
        eventId: 'e-1',
        type: 'WebPageViewed',
        data: {
          context: {
            consent: { categoryPreferences: { Analytics: true, Advertising: false, X: 'no' } },
          },
        },
      }),
    ).toEqual([
      {
        eventId: 'e-1',
        purpose: 'analytics',
        granted: true,
        source: 'segment-consent',
        category: 'Analytics',
        explicit: false,
      },
    ]);
    expect(
      consentStatementsOf({ eventId: 'e-2', type: 'EmailMarkedAsSpam', data: {} }),
    ).toMatchObject([{ purpose: 'email_marketing', granted: false, explicit: true }]);
  });

  it('takes the current value per purpose from the latest statement among its keys', () => {
    expect(
      currentConsentOf({
        Analytics: { value: true, at: '2026-04-01T10:00:00.000Z', source: 'UserIdentified' },
        analytics: { value: false, at: '2026-04-02T10:00:00.000Z', source: 'ConsentChanged' },
        'Email Marketing': { value: true, at: '2026-03-01T00:00:00.000Z', source: 'WebPageViewed' },
        Advertising: { value: false, at: '2026-05-01T00:00:00.000Z', source: 'UserIdentified' },
      }),
    ).toEqual({
      analytics: { granted: false, at: '2026-04-02T10:00:00.000Z', source: 'ConsentChanged' },
      email_marketing: {
        granted: true,
        at: '2026-03-01T00:00:00.000Z',
        source: 'WebPageViewed',
      },
      phone_marketing: null,
    });
  });
});

describe('suppressed identifiers', () => {
  it('are normalized as the identity graph does, and refused when malformed', () => {
    expect(canonicalSuppressedIdentifier('email', ' Ada@Example.COM')).toEqual({
      ok: true,
      canonical: 'email:ada@example.com',
    });
    expect(canonicalSuppressedIdentifier('phone', '+44 20 7946 0958')).toEqual({
      ok: true,
      canonical: 'phone:+442079460958',
    });
    expect(canonicalSuppressedIdentifier('externalId', 'crm:42')).toEqual({
      ok: true,
      canonical: 'externalId:crm:42',
    });
    expect(canonicalSuppressedIdentifier('email', 'not an address').ok).toBe(false);
    expect(canonicalSuppressedIdentifier('externalId', '42').ok).toBe(false);
    expect(canonicalSuppressedIdentifier('userId', '').ok).toBe(false);
  });

  it('are hashed with a secret derived from the master key, never kept in clear', () => {
    const a = IdentifierHasher.fromMasterKey(Buffer.alloc(32, 1));
    const b = IdentifierHasher.fromMasterKey(Buffer.alloc(32, 2));
    const hash = a.hash('email:ada@example.com');
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash('email:ada@example.com')).toBe(hash);
    expect(b.hash('email:ada@example.com')).not.toBe(hash);
    expect(a.secretId).not.toBe(b.secretId);
  });

  it('are found in every identifier an event carries', () => {
    expect(
      identifiersOfEvent({
        eventId: 'e-1',
        type: 'UserIdentified',
        streamId: 'user:u-1',
        occurredAt: new Date('2026-05-01T00:00:00Z'),
        data: {
          userId: 'u-1',
          anonymousId: 'a-1',
          traits: { email: 'Ada@Example.com', phone: '+442079460958' },
          context: {},
        },
      }).sort(),
    ).toEqual(['anonymousId:a-1', 'email:ada@example.com', 'phone:+442079460958', 'userId:u-1']);
    expect(
      identifiersOfEvent({
        eventId: 'e-2',
        type: 'StoreVisited',
        streamId: 'ext:42',
        occurredAt: new Date('2026-05-01T00:00:00Z'),
        data: { customerExternalId: '42', customerEmail: null, customerPhone: null },
      }),
    ).toEqual(['externalId:crm:42']);
  });
});
