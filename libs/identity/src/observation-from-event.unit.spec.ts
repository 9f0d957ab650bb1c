import { randomUUID } from 'node:crypto';

import { isIdentityError } from './errors';
import { buildIdentityGraph, customerOf } from './identity-graph';
import type { Observation } from './observation';
import { observationFromEvent, type StoredEventLike } from './observation-from-event';

const stored = (type: string, data: StoredEventLike['data']): StoredEventLike => ({
  eventId: randomUUID(),
  type,
  occurredAt: '2026-01-01T10:00:00.000Z',
  streamId: 'unused',
  data,
});

const identifiersOf = (observation: Observation | null): string[] =>
  (observation?.identifiers ?? []).map(({ kind, value }) => `${kind}:${value}`);

describe('observationFromEvent', () => {
  it('takes an identify call: ids, normalized trait email and phone, external ids', () => {
    const observation = observationFromEvent(
      stored('UserIdentified', {
        userId: 'u-42',
        anonymousId: 'anon-1',
        traits: { email: '  Ada@Example.COM ', phone: '+44 20 7946 0958', name: 'Ada' },
        context: { externalIds: [{ id: '123', type: 'hubspot_contact_id', collection: 'users' }] },
      }),
    );
    expect(observation).toMatchObject({
      source: 'identify',
      occurredAt: new Date('2026-01-01T10:00:00.000Z'),
    });
    expect(identifiersOf(observation)).toEqual([
      'userId:u-42',
      'anonymousId:anon-1',
      'externalId:hubspot_contact_id:123',
      'email:ada@example.com',
      'phone:+442079460958',
    ]);
  });

  it('skips trait values that are not an address or a number, and national numbers without a default country', () => {
    const data = {
      userId: 'u-1',
      anonymousId: null,
      traits: { email: 'not an email', phone: '020 7946 0958' },
      context: {},
    };
    expect(identifiersOf(observationFromEvent(stored('UserIdentified', data)))).toEqual([
      'userId:u-1',
    ]);
    expect(
      identifiersOf(observationFromEvent(stored('UserIdentified', data), { defaultCountry: 'GB' })),
    ).toEqual(['userId:u-1', 'phone:+442079460958']);
  });

  it('takes an alias: previousId is the anonymous id unless configured as a user id', () => {
    const event = stored('UserAliased', {
      userId: 'u-2',
      anonymousId: null,
      previousId: 'old',
      context: {},
    });
    expect(identifiersOf(observationFromEvent(event))).toEqual(['userId:u-2', 'anonymousId:old']);
    expect(identifiersOf(observationFromEvent(event, { aliasPreviousIdKind: 'userId' }))).toEqual([
      'userId:u-2',
      'userId:old',
    ]);
    expect(observationFromEvent(event)?.source).toBe('alias');
  });

  it('takes web events with context.traits, but not the traits of a group', () => {
    const page = stored('WebPageViewed', {
      userId: null,
      anonymousId: 'anon-9',
      context: { traits: { email: 'bob@example.com' } },
    });
    expect(identifiersOf(observationFromEvent(page))).toEqual([
      'anonymousId:anon-9',
      'email:bob@example.com',
    ]);
    const group = stored('GroupIdentified', {
      userId: 'u-3',
      anonymousId: null,
      groupId: 'acme',
      traits: { email: 'billing@acme.example' },
      context: {},
    });
    expect(identifiersOf(observationFromEvent(group))).toEqual(['userId:u-3']);
    const order = stored('OrderCompleted', { userId: 'u-3', anonymousId: 'anon-3', context: {} });
    expect(observationFromEvent(order)).toMatchObject({ source: 'track' });
  });

  it('takes the recipient of an email event, the customer of phone and other contacts', () => {
    expect(
      identifiersOf(observationFromEvent(stored('EmailOpened', { recipient: 'ada@example.com' }))),
    ).toEqual(['email:ada@example.com']);
    expect(
      identifiersOf(
        observationFromEvent(
          stored('CallEnded', { customerPhone: '+442079460958', customerExternalId: 'c-7' }),
        ),
      ),
    ).toEqual(['phone:+442079460958', 'externalId:crm:c-7']);
    const visit = stored('StoreVisited', {
      customerEmail: 'ada@example.com',
      customerPhone: null,
      customerExternalId: 'c-7',
    });
    expect(
      identifiersOf(observationFromEvent(visit, { touchpointExternalIdSystem: 'shopify' })),
    ).toEqual(['email:ada@example.com', 'externalId:shopify:c-7']);
    expect(observationFromEvent(visit)?.source).toBe('other');
  });

  it('gives null for events that carry no identifier or are not touchpoints', () => {
    expect(observationFromEvent(stored('IdentityMergeRevoked', { eventId: 'x' }))).toBeNull();
    expect(observationFromEvent(stored('SmsSent', { customerPhone: null }))).toBeNull();
  });

  it('refuses an event whose time cannot be read', () => {
    const event = {
      ...stored('EmailSent', { recipient: 'ada@example.com' }),
      occurredAt: 'yesterday',
    };
    try {
      observationFromEvent(event);
      throw new Error('expected INVALID_EVENT');
    } catch (error: unknown) {
      expect(isIdentityError(error) && error.code).toBe('INVALID_EVENT');
    }
  });

  it('joins an email touchpoint to the web user who identified with that address', () => {
    const email = `ada-${randomUUID()}@example.com`;
    const events = [
      stored('EmailSent', { recipient: email }),
      stored('UserIdentified', {
        userId: 'u-ada',
        anonymousId: 'a-ada',
        traits: { email: email.toUpperCase() },
        context: {},
      }),
      stored('CallStarted', { customerPhone: '+442079460958', customerExternalId: 'c-ada' }),
      stored('SupportTicketOpened', {
        customerEmail: email,
        customerPhone: null,
        customerExternalId: 'c-ada',
      }),
    ];
    const graph = buildIdentityGraph(
      events
        .map((event) => observationFromEvent(event))
        .filter((o): o is Observation => o !== null),
    );
    const customer = customerOf(graph, `email:${email}`);
    expect(customer).not.toBeNull();
    for (const identifier of [
      'userId:u-ada',
      'anonymousId:a-ada',
      'phone:+442079460958',
      'externalId:crm:c-ada',
    ]) {
      expect(customerOf(graph, identifier)).toBe(customer);
    }
  });
});
