import { randomUUID } from 'node:crypto';
import { startEmbeddedTouchline, type EmbeddedTouchline } from './support/embedded-touchline';
import { basicAuth, eventually } from './support/server-process';

interface Profile {
  customerId: string;
  identifiers: { kind: string; value: string }[];
  traits: Record<string, unknown>;
  channels: Record<string, { events: number }>;
  totalEvents: number;
  lastContact: { channel: string; type: string; summary: string | null } | null;
  consent: Record<string, { value: boolean; source: string }>;
}

interface TimelinePage {
  items: { eventId: string; occurredAt: string; channel: string; type: string }[];
  nextCursor: string | null;
}

/**
 * One customer across touchpoints through the public HTTP API, as `npm start` runs it: anonymous
 * browsing, then identify, then a store visit reported by a CRM; the unified profile, lookups by
 * every identifier, the merge evidence, the timeline and search.
 */
describe('unified customer profile (embedded mode)', () => {
  let touchline: EmbeddedTouchline;
  let crmKey: string;
  const anonymousId = `anon-${randomUUID()}`;
  const userId = `user-${randomUUID().slice(0, 8)}`;
  const email = `ada.${randomUUID().slice(0, 8)}@example.com`;
  const phone = '+442079460958';

  const query = (route: string, key: string | null = touchline.apiKey) =>
    fetch(`${touchline.server.url}${route}`, {
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
    });
  const json = async <T>(route: string): Promise<T> => {
    const response = await query(route);
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('profiles');
    const source = await fetch(`${touchline.server.url}/v1/admin/sources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${touchline.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sourceId: 'crm', channel: 'other' }),
    });
    expect(source.status).toBe(201);
    crmKey = ((await source.json()) as { key: string }).key;

    const batch = await fetch(`${touchline.server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(touchline.writeKey) },
      body: JSON.stringify({
        batch: [
          {
            type: 'page',
            anonymousId,
            name: 'Home',
            messageId: randomUUID(),
            timestamp: '2026-11-01T09:00:00.000Z',
          },
          {
            type: 'page',
            anonymousId,
            name: 'Pricing',
            messageId: randomUUID(),
            timestamp: '2026-11-01T09:05:00.000Z',
          },
          {
            type: 'identify',
            anonymousId,
            userId,
            traits: { email: email.toUpperCase(), phone, plan: 'pro', name: 'Ada' },
            context: { consent: { categoryPreferences: { Analytics: true, Advertising: false } } },
            messageId: randomUUID(),
            timestamp: '2026-11-01T09:10:00.000Z',
          },
        ],
      }),
    });
    expect(batch.status).toBe(200);
    const visit = await fetch(`${touchline.server.url}/v1/contacts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(crmKey) },
      body: JSON.stringify({
        contacts: [
          {
            id: `v-${randomUUID()}`,
            type: 'store.visit',
            occurredAt: '2026-11-02T15:00:00Z',
            customer: { email },
            storeId: 'store-9',
            topic: 'returns',
          },
        ],
      }),
    });
    expect(visit.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await touchline?.stop();
  });

  it('shows one profile across web and store, found by every identifier', async () => {
    const profile = await eventually(async () => {
      const response = await query(`/v1/profiles/lookup?email=${encodeURIComponent(email)}`);
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as Profile;
      return body.totalEvents === 4 ? body : undefined;
    });
    expect(profile.identifiers).toEqual(
      expect.arrayContaining([
        { kind: 'anonymousId', value: anonymousId },
        { kind: 'userId', value: userId },
        { kind: 'email', value: email },
        { kind: 'phone', value: phone },
      ]),
    );
    expect(profile.channels['web']?.events).toBe(3);
    expect(profile.channels['other']?.events).toBe(1);
    expect(profile.traits).toMatchObject({ plan: 'pro', name: 'Ada' });
    expect(profile.lastContact).toMatchObject({ channel: 'other', type: 'StoreVisited' });
    expect(profile.lastContact?.summary).toContain('returns');

    for (const lookup of [
      `phone=${encodeURIComponent('+44 20 7946 0958')}`,
      `userId=${userId}`,
      `anonymousId=${anonymousId}`,
    ]) {
      expect((await json<Profile>(`/v1/profiles/lookup?${lookup}`)).customerId).toBe(
        profile.customerId,
      );
    }
    expect((await json<Profile>(`/v1/profiles/${profile.customerId}`)).totalEvents).toBe(4);

    const merges = await json<{
      links: { status: string; evidence: { eventId: string; source: string } }[];
    }>(`/v1/profiles/${profile.customerId}/merges`);
    expect(merges.links.length).toBeGreaterThanOrEqual(3);
    expect(merges.links.every((link) => link.status === 'accepted')).toBe(true);
    expect(merges.links.map((link) => link.evidence.source)).toContain('identify');

    const found = await json<{ items: Profile[] }>(`/v1/profiles?trait.plan=pro&channel=other`);
    expect(found.items.map((p) => p.customerId)).toContain(profile.customerId);
    // The same filter as the OpenAPI document declares it (deepObject), and one that excludes.
    const deepObject = await json<{ items: Profile[] }>(
      `/v1/profiles?${encodeURIComponent('trait[plan]')}=pro&channel=other`,
    );
    expect(deepObject.items.map((p) => p.customerId)).toEqual(found.items.map((p) => p.customerId));
    const otherPlan = await json<{ items: Profile[] }>(
      `/v1/profiles?${encodeURIComponent('trait[plan]')}=free&channel=other`,
    );
    expect(otherPlan.items.map((p) => p.customerId)).not.toContain(profile.customerId);

    // Last seen at the store visit, 2026-11-02T15:00Z: "from" is inclusive, "to" exclusive.
    const lastSeen = async (range: string) =>
      (await json<{ items: Profile[] }>(`/v1/profiles?${range}`)).items.map((p) => p.customerId);
    expect(
      await lastSeen('lastSeenFrom=2026-11-02T15:00:00Z&lastSeenTo=2026-11-02T15:00:01Z'),
    ).toContain(profile.customerId);
    expect(await lastSeen('lastSeenFrom=2026-11-02T15:00:01Z')).not.toContain(profile.customerId);
    expect(await lastSeen('lastSeenTo=2026-11-02T15:00:00Z')).not.toContain(profile.customerId);
    expect(await lastSeen('lastSeenTo=2026-11-03T00:00:00Z&channel=other')).toContain(
      profile.customerId,
    );

    expect(profile.consent).toMatchObject({
      Analytics: { value: true, source: 'UserIdentified' },
      Advertising: { value: false, source: 'UserIdentified' },
    });
    // The anonymous visit before sign-up and the sign-up are one session of the customer.
    const sessions = await json<{
      items: { events: number; identifiers: { kind: string; value: string }[] }[];
    }>(`/v1/profiles/${profile.customerId}/sessions`);
    expect(sessions.items).toHaveLength(1);
    expect(sessions.items[0]?.events).toBe(3);
    expect(sessions.items[0]?.identifiers).toEqual(
      expect.arrayContaining([{ kind: 'anonymousId', value: anonymousId }]),
    );
  });

  it('computes the profile as it was at a past time from the history', async () => {
    const live = await json<Profile>(`/v1/profiles/lookup?userId=${userId}`);
    type AsOf = { eventsConsidered: number; profiles: Profile[] };
    // Before sign-up: the anonymous visitor only, under the same customer id.
    const browsing = await json<AsOf>(
      `/v1/profiles/${live.customerId}/as-of?at=2026-11-01T09:06:00Z`,
    );
    expect(browsing.eventsConsidered).toBe(2);
    expect(browsing.profiles).toHaveLength(1);
    expect(browsing.profiles[0]).toMatchObject({
      customerId: live.customerId,
      identifiers: [{ kind: 'anonymousId', value: anonymousId }],
      totalEvents: 2,
      traits: {},
    });
    const signedUp = await json<AsOf>(`/v1/profiles/${live.customerId}/as-of?at=2026-11-01`);
    expect(signedUp.profiles[0]?.totalEvents).toBe(3);
    expect(signedUp.profiles[0]?.traits).toMatchObject({ plan: 'pro' });
    // As of now it is the live profile, field for field.
    const now = await json<AsOf>(
      `/v1/profiles/${live.customerId}/as-of?at=${new Date().toISOString()}`,
    );
    expect(now.profiles).toEqual([live]);
    const before = await json<AsOf>(`/v1/profiles/${live.customerId}/as-of?at=2020-01-01`);
    expect(before).toMatchObject({ eventsConsidered: 0, profiles: [] });
    expect((await query(`/v1/profiles/${live.customerId}/as-of`)).status).toBe(400);
    expect((await query(`/v1/profiles/${live.customerId}/as-of?at=soon`)).status).toBe(400);
  });

  it('pages the timeline in event-time order and filters it by channel', async () => {
    const { customerId } = await json<Profile>(`/v1/profiles/lookup?userId=${userId}`);
    const seen: TimelinePage['items'] = [];
    let cursor: string | null = null;
    do {
      const route: string = `/v1/profiles/${customerId}/timeline?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page: TimelinePage = await json<TimelinePage>(route);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen.map((item) => item.type)).toEqual([
      'WebPageViewed',
      'WebPageViewed',
      'UserIdentified',
      'StoreVisited',
    ]);
    const other = await json<TimelinePage>(`/v1/profiles/${customerId}/timeline?channel=other`);
    expect(other.items.map((item) => item.channel)).toEqual(['other']);
  });

  it('answers bad queries with a 400 naming the parameter, unknown ones with a 404, and needs a key', async () => {
    const expectError = async (route: string, status: number, mention: string) => {
      const response = await query(route);
      expect(response.status).toBe(status);
      const body = (await response.json()) as { error: { message: string } };
      expect(body.error.message).toContain(mention);
    };
    await expectError(`/v1/profiles/lookup?email=${email}&userId=${userId}`, 400, 'exactly one');
    await expectError('/v1/profiles/lookup?email=not-an-address', 400, 'email');
    await expectError('/v1/profiles/lookup?mail=a@example.com', 400, 'mail');
    await expectError('/v1/profiles/lookup?email=nobody.here@example.com', 404, 'No customer');
    await expectError('/v1/profiles/not-a-uuid', 400, 'customerId');
    await expectError(`/v1/profiles/${randomUUID()}`, 404, 'No customer');
    await expectError(`/v1/profiles?sort=name`, 400, 'sort');
    await expectError(`/v1/profiles?lastSeenFrom=yesterday`, 400, 'lastSeenFrom');
    await expectError(`/v1/profiles?cursor=bm9wZQ`, 400, 'cursor');
    await expectError(`/v1/profiles?x'%20OR%201=1--=1`, 400, 'unknown parameter');
    expect((await query(`/v1/profiles/lookup?userId=${userId}`, null)).status).toBe(401);
  });
  it('lets an admin undo a merge; a rebuild keeps it and gives byte-for-byte the same rows', async () => {
    const shared = `anon-shared-${randomUUID()}`;
    const send = async (body: object) => {
      const response = await fetch(`${touchline.server.url}/v1/batch`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: basicAuth(touchline.writeKey),
        },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(200);
    };
    await send({
      batch: [
        { type: 'page', anonymousId: shared, name: 'Kiosk', timestamp: '2026-11-03T08:00:00Z' },
        // Someone signs in on a shop's kiosk: the kiosk's anonymous id joins them.
        { type: 'identify', anonymousId: shared, userId, timestamp: '2026-11-03T08:01:00Z' },
      ],
    });
    const merged = await eventually(async () => {
      const response = await query(`/v1/profiles/lookup?anonymousId=${shared}`);
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as Profile;
      return body.identifiers.some((i) => i.kind === 'userId') ? body : undefined;
    });
    const merges = await json<{
      links: { linkId: string; status: string; between: { kind: string; value: string }[] }[];
    }>(`/v1/profiles/${merged.customerId}/merges`);
    const link = merges.links.find(
      (l) => l.status === 'accepted' && l.between.some((i) => i.value === shared),
    );
    if (link === undefined) throw new Error('no link to the kiosk id');

    const unmerge = (body: object) =>
      fetch(`${touchline.server.url}/v1/admin/identity/unmerge`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${touchline.apiKey}`,
        },
        body: JSON.stringify(body),
      });
    const done = await unmerge({ linkId: link.linkId, reason: 'shared kiosk' });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ applied: true });
    const kiosk = await json<Profile>(`/v1/profiles/lookup?anonymousId=${shared}`);
    expect(kiosk.customerId).not.toBe(merged.customerId);
    expect(kiosk.identifiers).toEqual([{ kind: 'anonymousId', value: shared }]);
    const user = await json<Profile>(`/v1/profiles/lookup?userId=${userId}`);
    expect(user.identifiers.map((i) => i.value)).not.toContain(shared);

    const again = await unmerge({ linkId: link.linkId });
    expect(await again.json()).toMatchObject({ applied: false });
    const unknown = await unmerge({ linkId: 'no-such-link' });
    expect(unknown.status).toBe(404);
    expect((await unmerge({ linkId: 'x', eventId: 'y' })).status).toBe(400);

    const dump = async () => {
      const rows: string[] = [];
      for (const table of [
        'customer_profiles',
        'customer_identifiers',
        'identity_links',
        'identifier_facts',
        'customer_touchpoints',
      ]) {
        const result = await touchline.sql.query<{ row: string }>(
          `SELECT t::text AS row FROM read_models.${table} t ORDER BY 1`,
        );
        rows.push(...result.rows.map((r) => `${table} ${r.row}`));
      }
      return rows;
    };
    const live = await dump();
    const rebuild = await fetch(
      `${touchline.server.url}/v1/admin/projections/customer_profiles/rebuild`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${touchline.apiKey}`,
        },
        body: '{}',
      },
    );
    expect(rebuild.status).toBe(202);
    await eventually(async () => {
      const response = await query('/v1/admin/projections/customer_profiles');
      const view = (await response.json()) as {
        lagEvents: number;
        rebuild: { status: string } | null;
      };
      return view.rebuild?.status === 'completed' && view.lagEvents === 0 ? view : undefined;
    }, 60_000);
    expect(await dump()).toEqual(live);
    expect((await json<Profile>(`/v1/profiles/lookup?anonymousId=${shared}`)).customerId).toBe(
      kiosk.customerId,
    );
  });
});
