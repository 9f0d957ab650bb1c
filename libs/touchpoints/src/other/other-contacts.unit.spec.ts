import { randomUUID } from 'node:crypto';

import { mapOtherContacts } from '../index';
import { catalogMismatches } from '../testing';

const context = () => ({ sourceId: randomUUID(), receivedAt: new Date('2024-05-01T10:00:00Z') });
const contact = (type: string, extra: Record<string, unknown>) => ({
  id: `c-${randomUUID()}`,
  type,
  occurredAt: '2024-05-01T09:00:00Z',
  customer: { email: ' Jane@Example.com', phone: '+14155552671', externalId: 'crm-1' },
  staffId: 'staff-3',
  topic: 'returns',
  ...extra,
});

describe('other contacts', () => {
  it('maps store visits, meetings and support tickets', () => {
    const result = mapOtherContacts(
      {
        contacts: [
          contact('store.visit', {
            storeId: 'store-12',
            storeName: 'Oxford Street',
            durationMinutes: 25,
            outcome: 'purchase',
          }),
          contact('meeting', { medium: 'video', durationMinutes: 45, outcome: 'proposal sent' }),
          contact('support.ticket.opened', {
            ticketId: 'T-9',
            subject: 'Broken zip',
            priority: 'high',
            via: 'email',
          }),
          contact('support.ticket.resolved', { ticketId: 'T-9', outcome: 'refunded' }),
        ],
      },
      context(),
    );
    expect(result.rejected).toEqual([]);
    expect(result.events.map((e) => [e.type, e.channel])).toEqual([
      ['StoreVisited', 'other'],
      ['MeetingHeld', 'other'],
      ['SupportTicketOpened', 'other'],
      ['SupportTicketResolved', 'other'],
    ]);
    for (const event of result.events) {
      expect(catalogMismatches(event)).toEqual([]);
      expect(event.identifiers).toEqual({
        email: 'jane@example.com',
        phone: '+14155552671',
        externalId: 'crm-1',
      });
    }
  });

  it('requires an identifier, the type-specific fields, and a valid type', () => {
    const result = mapOtherContacts(
      {
        contacts: [
          contact('store.visit', { storeId: 's', customer: {} }),
          contact('support.ticket.resolved', { ticketId: 'T-1' }),
          contact('meeting', { medium: 'carrier pigeon' }),
          contact('phone.call', {}),
          contact('store.visit', { storeId: 's', customer: { email: 'nope' } }),
        ],
      },
      context(),
    );
    expect(result.events).toEqual([]);
    expect(result.rejected.map((r) => r.errors.map((e) => `${e.path}:${e.rule}`))).toEqual([
      ['contacts[0].customer:required'],
      ['contacts[1].outcome:required'],
      ['contacts[2].medium:enum'],
      ['contacts[3].type:enum'],
      ['contacts[4].customer.email:email'],
    ]);
  });
});
