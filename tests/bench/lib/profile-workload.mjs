// The unified customer profile's workload: a generated mix of what the platform receives from
// web, email and phone, turned into stored events by the platform's own code (CollectorService
// for Segment calls, the SendGrid and contact-centre mappers with TouchpointPublisher for email
// and calls, then the Recorder), so the projection reads exactly what production stores.
//
// Per visitor (deterministic pseudo-random numbers, so every run sees the same mix):
//   - an anonymous visit of 1 to 6 page views; 30% of those who never identify come back later;
//   - 35% identify at the end of the first visit (identify with email, name, plan and, for half
//     of them, a phone number in traits; a fifth with the email in another case and with spaces);
//     of those, 45% place 1 to 3 orders (Order Completed, EUR, USD or GBP), 20% come back on a
//     second device and identify again (a merge), half browse again while logged in, every one
//     receives 1 to 3 email campaigns (sent, delivered, 60% opened, 25% clicked), and 40% of those
//     with a phone number call the contact centre (call started, call ended);
//   - one visitor in ten comes with a newsletter reader who only ever receives emails.
import { benchRequire, serverDist } from './workload.mjs';

const DAY = 86_400_000;
const BASE_TIME = Date.parse('2025-03-01T00:00:00Z');
const PAGES = [
  ['Home', '/'],
  ['Pricing', '/pricing'],
  ['Running Shoes', '/products/running-shoes'],
  ['Trail Jacket', '/products/trail-jacket'],
  ['Blog: Marathon Training', '/blog/marathon-training'],
  ['Checkout', '/checkout'],
];
const CURRENCIES = ['EUR', 'USD', 'GBP'];
const TOPICS = ['delivery', 'billing', 'returns', 'sizing'];
const DISPOSITIONS = ['resolved', 'callback', 'escalated'];
const CONTEXT = {
  ip: '203.0.113.7',
  locale: 'en-GB',
  userAgent:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  library: { name: 'analytics.js', version: '4.1.0' },
};
/** The exchange rates the projection converts orders with (base USD). */
export const PROFILE_FX = { base: 'USD', rates: 'EUR=1.08,GBP=1.27' };

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG), so runs compare. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * The generated mix: items in no particular order, each { at (ms), kind, body } where kind is
 * 'segment' (a Segment message), 'sendgrid' (one SendGrid webhook event) or 'call' (one
 * contact-centre event); generation stops at the first visitor boundary past `targetEvents`.
 */
export function profileMix(targetEvents, seed = 20_260_301) {
  const next = random(seed);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const uuid = () => {
    const hex = () =>
      Math.floor(next() * 2 ** 32)
        .toString(16)
        .padStart(8, '0');
    const h = hex() + hex() + hex() + hex();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  const items = [];
  const counts = {
    visitors: 0,
    identified: 0,
    secondDevices: 0,
    newsletterOnly: 0,
    byKind: { segment: 0, sendgrid: 0, call: 0 },
  };
  let n = 0;
  const add = (at, kind, body) => {
    items.push({ at, kind, body });
    counts.byKind[kind] += 1;
  };
  const iso = (at) => new Date(at).toISOString();
  const page = (at, anonymousId, userId) => {
    const [name, pagePath] = pick(PAGES);
    add(at, 'segment', {
      type: 'page',
      name,
      ...(userId ? { userId } : {}),
      anonymousId,
      messageId: `pm-${++n}`,
      timestamp: iso(at),
      properties: { path: pagePath, url: `https://shop.example.com${pagePath}`, title: name },
      context: { ...CONTEXT, page: { path: pagePath } },
    });
  };
  const visit = (start, pages, anonymousId, userId = null) => {
    let at = start;
    for (let k = 0; k < pages; k++) {
      page(at, anonymousId, userId);
      at += 10_000 + Math.floor(next() * 90_000);
    }
    return at;
  };
  const emails = (from, address, campaigns) => {
    for (let c = 0; c < campaigns; c++) {
      const sent = from + Math.floor(next() * 20 * DAY);
      const campaign = `spring-${1 + Math.floor(next() * 12)}`;
      const base = {
        email: address,
        sg_message_id: `sg-${++n}.filter0001`,
        category: ['newsletter'],
        marketing_campaign_id: campaign,
      };
      const event = (type, at, extra = {}) =>
        add(at, 'sendgrid', {
          ...base,
          event: type,
          sg_event_id: `sge-${++n}`,
          timestamp: Math.floor(at / 1000),
          ...extra,
        });
      event('processed', sent);
      event('delivered', sent + 5_000);
      if (next() < 0.6) {
        const opened = sent + Math.floor(next() * DAY);
        event('open', opened, { useragent: CONTEXT.userAgent, ip: '198.51.100.4' });
        if (next() < 0.42)
          event('click', opened + 30_000, { url: 'https://shop.example.com/sale' });
      }
    }
  };
  const call = (at, phone) => {
    const callId = `call-${++n}`;
    const common = {
      callId,
      direction: 'inbound',
      from: phone,
      to: '+442071838750',
      queue: 'customer-service',
    };
    add(at, 'call', {
      ...common,
      id: `${callId}-s`,
      type: 'call.started',
      occurredAt: iso(at),
    });
    add(at + 180_000, 'call', {
      ...common,
      id: `${callId}-e`,
      type: 'call.ended',
      occurredAt: iso(at + 180_000),
      durationSeconds: 60 + Math.floor(next() * 600),
      disposition: pick(DISPOSITIONS),
      topic: pick(TOPICS),
      agent: { id: `agent-${1 + Math.floor(next() * 40)}` },
    });
  };

  for (let v = 0; items.length < targetEvents; v++) {
    counts.visitors += 1;
    const anonymousId = uuid();
    const start = BASE_TIME + Math.floor(next() * 30 * DAY);
    const end = visit(start, 1 + Math.floor(next() * 6), anonymousId);
    if (next() < 0.35) {
      counts.identified += 1;
      const userId = `cust-${String(100_000 + v)}`;
      const email = `customer${v}@example.com`;
      const phone = next() < 0.5 ? `+4420${70_000_000 + v}` : null;
      const traits = {
        email: next() < 0.2 ? ` Customer${v}@Example.COM ` : email,
        name: `Customer ${v}`,
        plan: next() < 0.3 ? 'pro' : 'free',
        ...(phone ? { phone: `+44 20 ${phone.slice(5, 9)} ${phone.slice(9)}` } : {}),
      };
      const identified = end + 20_000;
      const identify = (at, anon, t) =>
        add(at, 'segment', {
          type: 'identify',
          userId,
          anonymousId: anon,
          messageId: `im-${++n}`,
          timestamp: iso(at),
          traits: t,
          context: CONTEXT,
        });
      identify(identified, anonymousId, traits);
      if (next() < 0.45) {
        const orders = 1 + Math.floor(next() * 3);
        for (let o = 0; o < orders; o++) {
          const at = identified + 60_000 + o * Math.floor(next() * 15 * DAY);
          const price = (19 + Math.floor(next() * 180)).toFixed(2);
          add(at, 'segment', {
            type: 'track',
            event: 'Order Completed',
            userId,
            anonymousId,
            messageId: `om-${++n}`,
            timestamp: iso(at),
            properties: {
              order_id: `ord-${n}`,
              revenue: price,
              currency: pick(CURRENCIES),
              products: [{ product_id: `p-${Math.floor(next() * 500)}`, price, quantity: 1 }],
            },
            context: CONTEXT,
          });
        }
      }
      emails(identified + DAY, email, 1 + Math.floor(next() * 3));
      if (phone && next() < 0.4) call(identified + Math.floor(next() * 25 * DAY), phone);
      if (next() < 0.5) {
        visit(
          identified + Math.floor(next() * 20 * DAY),
          1 + Math.floor(next() * 3),
          anonymousId,
          userId,
        );
      }
      if (next() < 0.2) {
        counts.secondDevices += 1;
        const second = uuid();
        const at = visit(
          identified + Math.floor(next() * 20 * DAY),
          1 + Math.floor(next() * 3),
          second,
        );
        identify(at + 5_000, second, { plan: traits.plan });
      }
    } else if (next() < 0.3) {
      visit(end + Math.floor(next() * 20 * DAY), 1 + Math.floor(next() * 3), anonymousId);
    }
    if (v % 10 === 0) {
      counts.newsletterOnly += 1;
      emails(start, `reader${v}@example.net`, 1 + Math.floor(next() * 2));
    }
  }
  return { items, counts };
}

/** A capturing publisher: what the platform would send to Kafka. */
function capture() {
  const captured = [];
  return { captured, publisher: { publish: async (m) => void captured.push(...m) } };
}

/**
 * The Kafka messages the platform would publish for the mix, in event-time order (webhook and
 * tracking traffic arrives roughly as it happens): Segment messages through CollectorService,
 * SendGrid events through mapSendGridEvents and calls through mapContactCentreEvents, both
 * published by TouchpointPublisher. Throws if any item is rejected.
 */
export async function profileEnvelopes(topics, items) {
  const { CollectorService } = serverDist('collector/collector.service.js');
  const { TouchpointPublisher } = serverDist('touchpoints/touchpoint-publisher.js');
  const { mapSendGridEvents, mapContactCentreEvents } = benchRequire('@touchline/touchpoints');
  const { decodeEnvelopeOrThrow } = benchRequire('@touchline/contracts');
  const receivedAt = new Date();
  const byKind = { segment: [], sendgrid: [], call: [] };
  for (const item of items) byKind[item.kind].push(item.body);
  const out = capture();
  const collector = new CollectorService(out.publisher, topics);
  const chunk = 500;
  const segment = byKind.segment;
  for (let i = 0; i < segment.length; i += chunk) {
    const results = await collector.ingest({
      principal: {
        keyId: 'bench',
        role: 'ingestion',
        sourceId: 'bench-web',
        channel: 'web',
        rateLimitPerSecond: null,
      },
      endpoint: '/v1/batch',
      receivedAt,
      messages: segment.slice(i, i + chunk),
      impliedType: null,
      defaults: {},
      correlationId: 'bench',
    });
    const rejected = results.find((r) => r.status !== 'accepted');
    if (rejected)
      throw new Error(`the benchmark's own event was rejected: ${JSON.stringify(rejected)}`);
  }
  const touchpoints = new TouchpointPublisher(out.publisher, topics);
  const publish = async (kind, sourceId, endpoint, map) => {
    const list = byKind[kind];
    for (let i = 0; i < list.length; i += chunk) {
      const result = map(list.slice(i, i + chunk), { sourceId, receivedAt });
      const outcome = await touchpoints.publish(result, {
        sourceId,
        endpoint,
        receivedAt,
        correlationId: 'bench',
      });
      if (outcome.rejected > 0 || outcome.ignored > 0)
        throw new Error(
          `the benchmark's own ${kind} items were not all accepted: ${JSON.stringify(outcome.errors.slice(0, 3))}`,
        );
    }
  };
  await publish('sendgrid', 'bench-email', '/v1/webhooks/sendgrid', (list, ctx) =>
    mapSendGridEvents(list, ctx),
  );
  await publish('call', 'bench-phone', '/v1/calls', (list, ctx) =>
    mapContactCentreEvents({ events: list }, ctx),
  );
  const timed = out.captured.map((message) => ({
    at: decodeEnvelopeOrThrow(message.value).occurredAt.getTime(),
    message,
  }));
  timed.sort((a, b) => a.at - b.at);
  return timed.map((t) => t.message);
}
