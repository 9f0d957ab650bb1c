// Parsing Canonical Form of the Avro specification: the schema reduced to what decoding depends
// on (full names, no doc/aliases/defaults/logical types, fixed key order, no whitespace). Two
// schemas with the same canonical form read and write the same bytes, so its CRC-64-AVRO is
// the schema's identity on the wire.

const PRIMITIVES = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);

/** The Parsing Canonical Form of a schema given as parsed JSON. Throws on a malformed schema. */
export function parsingCanonicalForm(schema: unknown): string {
  return canonical(schema, '', new Set());
}

function canonical(schema: unknown, namespace: string, seen: Set<string>): string {
  if (typeof schema === 'string') {
    return JSON.stringify(PRIMITIVES.has(schema) ? schema : fullName(schema, namespace));
  }
  if (Array.isArray(schema))
    return `[${schema.map((s) => canonical(s, namespace, seen)).join(',')}]`;
  if (typeof schema !== 'object' || schema === null)
    throw new Error(`not a schema: ${String(schema)}`);
  const s = schema as Record<string, unknown>;
  const type = s['type'];
  switch (type) {
    case 'record':
    case 'error':
    case 'enum':
    case 'fixed': {
      const name = requireString(s['name'], 'name');
      const ns = typeof s['namespace'] === 'string' ? s['namespace'] : namespace;
      const full = fullName(name, ns);
      if (seen.has(full)) return JSON.stringify(full);
      seen.add(full);
      const head = `{"name":${JSON.stringify(full)},"type":${JSON.stringify(type === 'error' ? 'record' : type)}`;
      if (type === 'enum') return `${head},"symbols":${JSON.stringify(s['symbols'])}}`;
      if (type === 'fixed') return `${head},"size":${JSON.stringify(Number(s['size']))}}`;
      const inner = full.includes('.') ? full.slice(0, full.lastIndexOf('.')) : '';
      const fields = (s['fields'] as readonly Record<string, unknown>[]).map(
        (f) =>
          `{"name":${JSON.stringify(requireString(f['name'], 'field name'))},"type":${canonical(f['type'], inner, seen)}}`,
      );
      return `${head},"fields":[${fields.join(',')}]}`;
    }
    case 'array':
      return `{"type":"array","items":${canonical(s['items'], namespace, seen)}}`;
    case 'map':
      return `{"type":"map","values":${canonical(s['values'], namespace, seen)}}`;
    default:
      // {"type": "long", "logicalType": ...} and {"type": "SomeNamedType"}.
      return canonical(type, namespace, seen);
  }
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`schema ${what} must be a string`);
  return value;
}
