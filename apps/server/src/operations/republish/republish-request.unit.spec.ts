import { republishRequestOrThrow } from './republish-request';
import { RepublishError } from './republish.exception';

function refusal(body: unknown): RepublishError {
  try {
    republishRequestOrThrow(body);
  } catch (error) {
    if (error instanceof RepublishError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('republishRequestOrThrow', () => {
  it('reads a start with positions, a time, types and a rate; the name defaults to the topic', () => {
    expect(
      republishRequestOrThrow({
        topic: 'crm.history.v1',
        from: 12,
        to: '2026-02-01T00:00:00Z',
        eventTypes: ['WebEventTracked', 'WebEventTracked'],
        rateLimit: 500,
      }),
    ).toEqual({
      resume: false,
      name: 'crm.history.v1',
      topic: 'crm.history.v1',
      from: { kind: 'position', position: 12n },
      to: { kind: 'time', time: new Date('2026-02-01T00:00:00Z') },
      eventTypes: ['WebEventTracked'],
      rateLimit: 500,
    });
    expect(republishRequestOrThrow({ topic: 't', from: '7', name: 'job-1' })).toMatchObject({
      name: 'job-1',
      from: { kind: 'position', position: 7n },
      to: null,
      eventTypes: null,
      rateLimit: null,
    });
  });

  it('reads a resume: rate may change (null lifts it), the range may not', () => {
    expect(republishRequestOrThrow({ name: 'job-1', resume: true })).toEqual({
      resume: true,
      name: 'job-1',
      topic: null,
      rateLimit: undefined,
    });
    expect(republishRequestOrThrow({ topic: 't', resume: true, rateLimit: null })).toEqual({
      resume: true,
      name: 't',
      topic: 't',
      rateLimit: null,
    });
    const error = refusal({ name: 'job-1', resume: true, from: 3, eventTypes: ['X'] });
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.message).toContain('from, eventTypes cannot change on resume');
  });

  it('names every bad parameter at once', () => {
    const error = refusal({
      topic: 'bad topic!',
      from: 'yesterday',
      to: 0,
      rateLimit: 1.5,
      eventTypes: ['NoSuchEvent'],
      colour: 'red',
    });
    expect(error.code).toBe('INVALID_REQUEST');
    expect(error.status).toBe(400);
    for (const field of ['topic', 'from', 'to', 'rateLimit', 'NoSuchEvent', 'colour']) {
      expect(error.message).toContain(field);
    }
  });

  it('refuses a body that is not an object, a missing topic, and a resume with no name', () => {
    expect(refusal([]).code).toBe('INVALID_REQUEST');
    expect(refusal({}).message).toContain('topic is required');
    expect(refusal({ resume: true }).message).toContain('name (or topic) is required');
    expect(refusal({ topic: '..' }).message).toContain('topic must be');
  });
});
