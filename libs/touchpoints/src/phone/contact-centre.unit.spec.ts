import { randomUUID } from 'node:crypto';

import { mapContactCentreEvents } from '../index';
import { catalogMismatches } from '../testing';

const context = () => ({ sourceId: randomUUID(), receivedAt: new Date('2024-05-01T10:00:00Z') });
const call = (type: string, extra: Record<string, unknown> = {}) => ({
  id: `evt-${randomUUID()}`,
  type,
  callId: 'call-77',
  occurredAt: '2024-05-01T09:30:00+02:00',
  direction: 'inbound',
  from: '020 7946 0958',
  to: '+44 20 7946 0000',
  customer: { externalId: 'crm-123' },
  agent: { id: 'agent-7', name: 'Sam' },
  queue: 'billing',
  ivrPath: ['main', 'billing'],
  topic: 'invoice question',
  ...extra,
});

describe('generic contact-centre format', () => {
  it('maps a batch of the whole lifecycle with agent, queue, IVR path, disposition and topic', () => {
    const body = {
      events: [
        call('call.started'),
        call('call.answered'),
        call('call.ended', { durationSeconds: 312, disposition: 'resolved' }),
        call('call.missed', { reason: 'abandoned' }),
        call('voicemail.left', {
          durationSeconds: 40,
          recordingUrl: 'https://recordings.example.com/vm/1.mp3',
        }),
      ],
    };
    const result = mapContactCentreEvents(body, context(), { defaultCountry: 'GB' });
    expect(result.rejected).toEqual([]);
    expect(result.events.map((e) => e.type)).toEqual([
      'CallStarted',
      'CallAnswered',
      'CallEnded',
      'CallMissed',
      'VoicemailLeft',
    ]);
    for (const event of result.events) {
      expect(catalogMismatches(event)).toEqual([]);
      expect(event.occurredAt).toEqual(new Date('2024-05-01T07:30:00Z'));
      expect(event.identifiers).toEqual({
        email: null,
        phone: '+442079460958',
        externalId: 'crm-123',
      });
      expect(event.data).toMatchObject({
        provider: 'contact-centre',
        agentId: 'agent-7',
        agentName: 'Sam',
        queue: 'billing',
        ivrPath: ['main', 'billing'],
        topic: 'invoice question',
      });
    }
    expect(result.events[2]?.data).toMatchObject({ durationSeconds: 312, disposition: 'resolved' });
  });

  it('accepts a single event, with the same id when sent again', () => {
    const event = call('call.started');
    const ctx = context();
    const a = mapContactCentreEvents(event, ctx, { defaultCountry: 'GB' });
    const b = mapContactCentreEvents({ events: [event] }, ctx, { defaultCountry: 'GB' });
    expect(a.events[0]?.eventId).toBe(b.events[0]?.eventId);
  });

  it('answers per item, naming field and rule', () => {
    const body = {
      events: [
        call('call.ended'),
        call('call.missed', { reason: 'bored' }),
        call('call.started', { occurredAt: '2024-05-01T09:30:00' }),
        call('call.started', { from: 'not a number' }),
        call('call.started', { from: null, customer: null }),
        call('voicemail.left', { recordingUrl: 'javascript:alert(1)' }),
        call('call.started'),
        7,
      ],
    };
    const result = mapContactCentreEvents(body, context(), { defaultCountry: 'GB' });
    expect(result.events).toHaveLength(1);
    expect(result.rejected.map((r) => r.errors.map((e) => `${e.path}:${e.rule}`))).toEqual([
      ['events[0].durationSeconds:required'],
      ['events[1].reason:enum'],
      ['events[2].occurredAt:timestamp'],
      ['events[3].from:phone'],
      ['events[4].customer:required'],
      ['events[5].recordingUrl:url'],
      ['events[7]:type'],
    ]);
  });

  it('refuses a batch over 500 items as a whole', () => {
    const result = mapContactCentreEvents(
      { events: Array.from({ length: 501 }, () => call('call.started')) },
      context(),
    );
    expect(result.rejected).toEqual([
      expect.objectContaining({
        index: null,
        errors: [expect.objectContaining({ path: 'events', rule: 'length' })],
      }),
    ]);
  });
});
