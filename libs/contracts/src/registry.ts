import { Type, type Schema } from 'avsc';
import { parsingCanonicalForm } from './canonical-form';
import { crc64Avro, fingerprintBytes } from './crc64-avro';
import { SCHEMA_SOURCES } from './generated/schemas';
import { LOGICAL_TYPES } from './logical-types';
import type { SchemaSource } from './schema-source';

/** A schema ready for the codec: its avsc type and its identity on the wire. */
export interface RegisteredSchema {
  readonly source: SchemaSource;
  readonly avroType: Type;
  readonly canonicalForm: string;
  /** CRC-64-AVRO of the canonical form, as the 8 little-endian bytes of single-object encoding. */
  readonly fingerprint: Buffer;
  /** The same 8 bytes in hex, for logs and lookups. */
  readonly fingerprintHex: string;
}

export function registerSchema(source: SchemaSource): RegisteredSchema {
  const avroType = Type.forSchema(source.schema as unknown as Schema, {
    logicalTypes: LOGICAL_TYPES,
    wrapUnions: 'never',
  });
  const canonicalForm = parsingCanonicalForm(source.schema);
  const fingerprint = fingerprintBytes(crc64Avro(Buffer.from(canonicalForm, 'utf8')));
  return {
    source,
    avroType,
    canonicalForm,
    fingerprint,
    fingerprintHex: fingerprint.toString('hex'),
  };
}

/** The schemas embedded at generate time, indexed by fingerprint and by type and version. */
export class SchemaRegistry {
  private readonly byFingerprint = new Map<string, RegisteredSchema>();
  private readonly events = new Map<string, RegisteredSchema>();
  private readonly envelopes = new Map<number, RegisteredSchema>();

  constructor(sources: readonly SchemaSource[]) {
    for (const source of sources) {
      const entry = registerSchema(source);
      const clash = this.byFingerprint.get(entry.fingerprintHex);
      if (clash) {
        // Two schemas with one identity could not be told apart on the wire.
        throw new Error(`${source.file} and ${clash.source.file} have the same fingerprint`);
      }
      this.byFingerprint.set(entry.fingerprintHex, entry);
      if (source.kind === 'envelope') this.envelopes.set(source.version, entry);
      else this.events.set(eventKey(source.type, source.version), entry);
    }
  }

  byFingerprintHex(hex: string): RegisteredSchema | undefined {
    return this.byFingerprint.get(hex);
  }

  event(type: string, version: number): RegisteredSchema | undefined {
    return this.events.get(eventKey(type, version));
  }

  envelope(version: number): RegisteredSchema | undefined {
    return this.envelopes.get(version);
  }

  all(): readonly RegisteredSchema[] {
    return [...this.byFingerprint.values()];
  }
}

function eventKey(type: string, version: number): string {
  return `${type}.v${version}`;
}

/** The registry of this build's schemas (schemas/ at generate time). */
export const SCHEMA_REGISTRY = new SchemaRegistry(SCHEMA_SOURCES);
