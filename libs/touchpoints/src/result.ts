import type { FieldError } from './errors';
import type { TouchpointEvent } from './events';

/** An item of a verified request that could not become an event: keep `raw` as a dead letter. */
export interface RejectedItem {
  /** Position in the request's list of items; null when the request body as a whole is unreadable. */
  readonly index: number | null;
  /** The provider's id for the item when it could be read, to help find it again. */
  readonly itemId: string | null;
  readonly errors: readonly FieldError[];
  readonly raw: unknown;
}

/** A well-formed item that is deliberately not a touchpoint (e.g. a resubscribe), with why. */
export interface IgnoredItem {
  readonly index: number;
  readonly itemId: string | null;
  readonly reason: string;
}

/**
 * What every mapper returns: one bad item never hides the good ones (per-item answers), and
 * nothing is dropped silently: every item is an event source, rejected, or ignored with a reason.
 */
export interface MappingResult<E extends TouchpointEvent = TouchpointEvent> {
  readonly events: readonly E[];
  readonly rejected: readonly RejectedItem[];
  readonly ignored: readonly IgnoredItem[];
}

/** Facts about the request the mapper cannot read from the payload. */
export interface MappingContext {
  /** The source (webhook endpoint owner) the request came through; part of every event id. */
  readonly sourceId: string;
  /** When the request arrived: used as occurredAt only where the provider sends no event time. */
  readonly receivedAt: Date;
}

export class MappingResultBuilder<E extends TouchpointEvent = TouchpointEvent> {
  readonly events: E[] = [];
  readonly rejected: RejectedItem[] = [];
  readonly ignored: IgnoredItem[] = [];

  reject(
    index: number | null,
    itemId: string | null,
    errors: readonly FieldError[],
    raw: unknown,
  ): void {
    this.rejected.push({ index, itemId, errors, raw });
  }

  ignore(index: number, itemId: string | null, reason: string): void {
    this.ignored.push({ index, itemId, reason });
  }

  build(): MappingResult<E> {
    return { events: this.events, rejected: this.rejected, ignored: this.ignored };
  }
}
