import type { Channel } from './channel';
import type { EventType } from './generated/types';

/** One schema file as embedded by the generator (see tools/contracts). */
export interface SchemaSource {
  readonly kind: 'envelope' | 'event';
  /** The record's short name, e.g. WebEventTracked; the event type. */
  readonly type: string;
  readonly version: number;
  /** The folder under schemas/events/ (null for the envelope). */
  readonly channel: Channel | null;
  /** Path of the schema file, relative to the repository root. */
  readonly file: string;
  readonly doc: string;
  /** Field paths holding personal data: `field`, `record.field` or `jsonField.key`. */
  readonly piiFields: readonly string[];
  /** The schema as written, custom attributes (pii, version) included. */
  readonly schema: { readonly [key: string]: unknown };
}

/** One event type and version, for documentation, routing and personal-data handling. */
export interface EventCatalogEntry {
  readonly type: EventType;
  readonly version: number;
  /** The channel these events are published on unless the collector decides otherwise. */
  readonly channel: Channel;
  readonly piiFields: readonly string[];
  readonly doc: string;
}
