import { Type } from 'avsc';
import { parsingCanonicalForm } from './canonical-form';
import { crc64Avro } from './crc64-avro';
import { SCHEMA_SOURCES } from './generated/schemas';
import { SCHEMA_REGISTRY } from './registry';

// Vectors from the Avro repository, share/test/data/schema-tests.txt (fingerprints as the
// signed 64-bit integers Java prints).
const VECTORS: readonly { input: string; canonical: string; fingerprint?: string }[] = [
  { input: '"null"', canonical: '"null"', fingerprint: '7195948357588979594' },
  { input: '{"type":"null"}', canonical: '"null"' },
  { input: '"boolean"', canonical: '"boolean"', fingerprint: '-6970731678124411036' },
  { input: '"int"', canonical: '"int"', fingerprint: '8247732601305521295' },
  { input: '"long"', canonical: '"long"', fingerprint: '-3434872931120570953' },
  { input: '"float"', canonical: '"float"', fingerprint: '5583340709985441680' },
  { input: '"double"', canonical: '"double"', fingerprint: '-8181574048448539266' },
  { input: '"bytes"', canonical: '"bytes"', fingerprint: '5746618253357095269' },
  { input: '"string"', canonical: '"string"', fingerprint: '-8142146995180207161' },
  { input: '[  ]', canonical: '[]', fingerprint: '-1241056759729112623' },
  { input: '[ "int"  ]', canonical: '["int"]', fingerprint: '-5232228896498058493' },
  {
    input: '[ "int" , {"type":"boolean"} ]',
    canonical: '["int","boolean"]',
    fingerprint: '5392556393470105090',
  },
  {
    input: '{"fields":[], "type":"record", "name":"foo"}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: '-4824392279771201922',
  },
  {
    input: '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
    canonical: '{"name":"x.y.foo","type":"record","fields":[]}',
    fingerprint: '5916914534497305771',
  },
  {
    input: '{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}',
    canonical: '{"name":"a.b.foo","type":"record","fields":[]}',
    fingerprint: '-4616218487480524110',
  },
  {
    input: '{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: '-4824392279771201922',
  },
  {
    input: '{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}',
    canonical: '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
    fingerprint: '7843277075252814651',
  },
  {
    input:
      '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},' +
      '{"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo"}',
    canonical:
      '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    fingerprint: '-4860222112080293046',
  },
  {
    input: '{"type":"enum", "name":"foo", "symbols":["A1"]}',
    canonical: '{"name":"foo","type":"enum","symbols":["A1"]}',
    fingerprint: '-6342190197741309591',
  },
  {
    input:
      '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
    canonical: '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
    fingerprint: '-4448647247586288245',
  },
  {
    input: '{"name":"foo","type":"fixed","size":15}',
    canonical: '{"name":"foo","type":"fixed","size":15}',
    fingerprint: '1756455273707447556',
  },
  {
    input: '{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}',
    canonical: '{"name":"x.y.z.foo","type":"fixed","size":32}',
    fingerprint: '-3064184465700546786',
  },
  {
    input: '{ "items":{"type":"null"}, "type":"array"}',
    canonical: '{"type":"array","items":"null"}',
    fingerprint: '-589620603366471059',
  },
  {
    input: '{ "values":"string", "type":"map"}',
    canonical: '{"type":"map","values":"string"}',
    fingerprint: '-8732877298790414990',
  },
  {
    input:
      '{"name":"PigValue","type":"record","fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
    canonical:
      '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
    fingerprint: '-1759257747318642341',
  },
];

describe('Parsing Canonical Form and CRC-64-AVRO (Avro test vectors)', () => {
  it.each(VECTORS)('$input', ({ input, canonical, fingerprint }) => {
    const form = parsingCanonicalForm(JSON.parse(input));
    expect(form).toBe(canonical);
    if (fingerprint)
      expect(BigInt.asIntN(64, crc64Avro(Buffer.from(form, 'utf8'))).toString()).toBe(fingerprint);
  });

  it('strips logical types, docs, defaults and custom attributes', () => {
    const schema = {
      type: 'record',
      name: 'E',
      namespace: 'n',
      version: 3,
      doc: 'd',
      fields: [
        {
          name: 'at',
          type: { type: 'long', logicalType: 'timestamp-millis' },
          doc: 'x',
          pii: true,
        },
        { name: 'c', type: { type: 'enum', name: 'C', symbols: ['a'], default: 'a' } },
        { name: 'again', type: 'C', default: 'a' },
      ],
    };
    expect(parsingCanonicalForm(schema)).toBe(
      '{"name":"n.E","type":"record","fields":[{"name":"at","type":"long"},' +
        '{"name":"c","type":{"name":"n.C","type":"enum","symbols":["a"]}},{"name":"again","type":"n.C"}]}',
    );
  });
});

describe('fingerprints of the committed schemas', () => {
  it('agree with the canonical form avsc derives', () => {
    for (const source of SCHEMA_SOURCES) {
      const avsc = JSON.stringify(Type.forSchema(source.schema as never).schema());
      expect(parsingCanonicalForm(source.schema)).toBe(avsc);
    }
  });

  it('are stable: a committed schema keeps its identity on the wire', () => {
    // A change here means already-written messages would no longer be recognised: add a
    // version instead of editing a committed schema.
    const fingerprints = Object.fromEntries(
      SCHEMA_REGISTRY.all().map((s) => [`${s.source.type}.v${s.source.version}`, s.fingerprintHex]),
    );
    expect(fingerprints).toEqual(PINNED_FINGERPRINTS);
  });
});

const PINNED_FINGERPRINTS = {
  'CallAnswered.v1': '28326be92b25bbdd',
  'CallEnded.v1': '20660da4acc26779',
  'CallMissed.v1': '313a4c93a7009a8d',
  'CallStarted.v1': '8ef71cac78f6c992',
  'ConsentChanged.v1': '0bdd687412b9d785',
  'EmailBounced.v1': 'e5c75ad04a84abb3',
  'EmailDeferred.v1': '109958ba299fcbf6',
  'EmailDelivered.v1': 'f0027e4d03d43753',
  'EmailDropped.v1': '10416367123f0fdf',
  'EmailLinkClicked.v1': '8bea8ce1773489ec',
  'EmailMarkedAsSpam.v1': '43696b95b29dc4a1',
  'EmailOpened.v1': '93c7eadfb2cbbfdf',
  'EmailSent.v1': '18bd6efe1a05267b',
  'EmailUnsubscribed.v1': 'ced6f0363ccb130e',
  'Envelope.v1': '995fe564e51d7922',
  'GroupIdentified.v1': 'ac91f3f26291a227',
  'MeetingHeld.v1': '3344625e354ad849',
  'OrderCompleted.v1': 'ac41d280e19088b9',
  'OrderRefunded.v1': '30d0c04ce3233bc0',
  'ProductAdded.v1': '57ed42a4ee6b35c1',
  'ProductViewed.v1': 'fbf3bc439dd375eb',
  'ScreenViewed.v1': '0636cd3222673242',
  'SmsDelivered.v1': 'cf2aed805ea483a8',
  'SmsFailed.v1': 'fbca01fab0d417e9',
  'SmsReceived.v1': '72e1cddef2e27075',
  'SmsSent.v1': '0f6c52b3766b31eb',
  'StoreVisited.v1': '98523a0e4cc3e969',
  'SupportTicketOpened.v1': '163e371bf7583127',
  'SupportTicketResolved.v1': '1613fab346ddcb3f',
  'UserAliased.v1': '3234360691da0267',
  'UserIdentified.v1': 'a8342449e4d8a8db',
  'VoicemailLeft.v1': 'bfb4266fe3010c2c',
  'WebEventTracked.v1': 'febe0087bab4a675',
  'WebPageViewed.v1': '4e3f7f56d645f5c8',
};
