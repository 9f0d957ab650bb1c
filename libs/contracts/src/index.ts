export * from './channel';
export {
  ContractError,
  type ContractErrorCode,
  type ValidationError,
  type ValidationRule,
} from './errors';
export type { JsonObject } from './json';
export { isJsonObject } from './json';
export type { EventCatalogEntry, SchemaSource } from './schema-source';
export { EVENT_CATALOG, SCHEMA_SOURCES } from './generated/schemas';
export * from './generated/types';
export {
  decodeEnvelopeOrThrow,
  decodeEventDataOrThrow,
  encodeEnvelope,
  encodeEventData,
  encodeValidatedEventData,
} from './codec';
export { decodedEventDataToJson, eventDataFromJson, eventDataToJson } from './json-mapping';
export {
  validateEventData,
  type EventDataOf,
  type EventVersion,
  type ValidationResult,
} from './validation';
export { SCHEMA_REGISTRY, SchemaRegistry, type RegisteredSchema } from './registry';
export { parsingCanonicalForm } from './canonical-form';
export { crc64Avro } from './crc64-avro';
export {
  ECOMMERCE_EVENT_TYPES,
  ECOMMERCE_TRACK_EVENTS,
  ecommerceEventDataFromTrack,
  ecommerceEventFromTrack,
  type EcommerceEventRef,
  type EcommerceEventType,
  type EcommerceOptions,
  type OrderProductV1,
  type SegmentTrackFields,
} from './ecommerce';
export {
  isCurrencyCode,
  isDecimalString,
  MAX_DECIMAL_LENGTH,
  VALUE_RULES,
  type ValueRule,
} from './value-rules';
