import type { RecordedEvent } from '@touchline/event-store';

const MAX_SUMMARY = 200;

const text = (value: unknown): string | null =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : null;

const objectOf = (value: unknown): Readonly<Record<string, unknown>> | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;

/**
 * What a touchpoint was about, in a few words, for "the last contact and what it was about" and
 * the timeline: the tracked event or page, the email campaign, the call's topic and outcome, the
 * ticket's subject. Never the free text of a message (an SMS body): that is personal data.
 */
export function touchpointSummaryOf(event: RecordedEvent): string | null {
  const data = event.data;
  const parts: (string | null)[] = [];
  switch (event.type) {
    case 'WebEventTracked':
      parts.push(text(data['event']));
      break;
    case 'WebPageViewed':
    case 'ScreenViewed': {
      const properties = objectOf(data['properties']);
      parts.push(text(data['name']) ?? text(properties?.['title']) ?? text(properties?.['path']));
      break;
    }
    case 'OrderCompleted':
    case 'OrderRefunded':
      parts.push(text(data['orderId']) && `order ${text(data['orderId'])}`);
      parts.push(
        text(data['revenue'] ?? data['total']) &&
          `${String(data['revenue'] ?? data['total'])} ${text(data['currency']) ?? ''}`.trim(),
      );
      break;
    case 'ProductViewed':
    case 'ProductAdded':
      parts.push(text(data['name']) ?? text(data['productId']) ?? text(data['sku']));
      break;
    default:
      if (event.type.startsWith('Email')) {
        parts.push(text(data['campaignId']) && `campaign ${text(data['campaignId'])}`);
        parts.push(text(data['bounceType']) ?? text(data['url']));
      } else {
        parts.push(text(data['topic']) ?? text(data['subject']));
        parts.push(text(data['disposition']) ?? text(data['outcome']) ?? text(data['reason']));
      }
  }
  const summary = parts.filter((part): part is string => part !== null && part !== '').join(' · ');
  return summary === '' ? null : summary.slice(0, MAX_SUMMARY);
}
