import { touchpointEventId } from '../event-id';
import { touchpointEvent, type EmailEvent, type TouchpointEventDataMap } from '../events';

type EmailType = EmailEvent['type'];

/** An email event keyed by its provider's ids, joined to the customer by the recipient address. */
export function emailEvent<T extends EmailType>(
  type: T,
  sourceId: string,
  idParts: readonly string[],
  data: TouchpointEventDataMap[T],
): EmailEvent {
  const eventId = touchpointEventId('email', sourceId, data.provider, ...idParts);
  return touchpointEvent(
    type,
    eventId,
    { email: data.recipient, phone: null, externalId: null },
    data,
  );
}
