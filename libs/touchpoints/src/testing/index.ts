/**
 * Test helpers: sign requests the way each provider does, with keys and certificates made on
 * the spot, so tests (here and in the HTTP layer) exercise real verification, never a stub.
 */
import {
  createHmac,
  createSign,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';

import { SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER } from '../email/sendgrid';
import { TOUCHPOINT_EVENT_CATALOG, type CatalogFieldType } from '../event-catalog';
import type { TouchpointEvent } from '../events';

export interface SendGridTestKeys {
  /** As SendGrid shows it: base64 DER SubjectPublicKeyInfo. */
  readonly publicKeyBase64: string;
  readonly privateKey: KeyObject;
}

export function createSendGridTestKeys(): SendGridTestKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKeyBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    privateKey,
  };
}

export function sendGridSignatureHeaders(
  rawBody: string,
  timestampSeconds: number,
  privateKey: KeyObject,
): Record<string, string> {
  const timestamp = String(timestampSeconds);
  const signature = sign('sha256', Buffer.from(timestamp + rawBody, 'utf8'), {
    key: privateKey,
    dsaEncoding: 'der',
  });
  return {
    [SENDGRID_SIGNATURE_HEADER]: signature.toString('base64'),
    [SENDGRID_TIMESTAMP_HEADER]: timestamp,
  };
}

export function mailgunSignature(
  signingKey: string,
  timestampSeconds: number,
  token: string = randomBytes(25).toString('hex'),
): { timestamp: string; token: string; signature: string } {
  const timestamp = String(timestampSeconds);
  return {
    timestamp,
    token,
    signature: createHmac('sha256', signingKey)
      .update(timestamp + token)
      .digest('hex'),
  };
}

export function basicAuthHeader(username: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

// ---- SNS --------------------------------------------------------------------------------------

export interface TestCertificate {
  readonly certificatePem: string;
  readonly privateKey: KeyObject;
}

/** A self-signed RSA certificate (X.509 v3, sha256WithRSAEncryption), built in DER by hand. */
export function createTestCertificate(options: {
  notBefore: Date;
  notAfter: Date;
  commonName?: string;
}): TestCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const algorithm = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
  const name = seq(
    set(
      seq(
        oid('2.5.4.3'),
        tlv(0x0c, Buffer.from(options.commonName ?? 'sns.amazonaws.com', 'utf8')),
      ),
    ),
  );
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(randomBytes(8)),
    algorithm,
    name,
    seq(utcTime(options.notBefore), utcTime(options.notAfter)),
    name,
    publicKey.export({ format: 'der', type: 'spki' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    certificatePem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
    privateKey,
  };
}

/** Signs an SNS message as SNS does: the canonical string of its fields, SHA1 (v1) or SHA256 (v2) with RSA. */
export function signSnsMessage<M extends Record<string, string>>(
  message: M,
  privateKey: KeyObject,
  signatureVersion: '1' | '2' = '2',
): M & { Signature: string; SignatureVersion: string } {
  const fields =
    message['Type'] === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const canonical = fields
    .filter((f) => message[f] !== undefined)
    .map((f) => `${f}\n${message[f]}\n`)
    .join('');
  const signer = createSign(signatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
  signer.update(canonical, 'utf8');
  return {
    ...message,
    SignatureVersion: signatureVersion,
    Signature: signer.sign(privateKey, 'base64'),
  };
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : n < 0x10000
          ? Buffer.from([0x82, n >> 8, n & 0xff])
          : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
function integer(bytes: Buffer): Buffer {
  // Positive: a leading zero byte when the high bit is set.
  return tlv(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}
function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}
function utcTime(date: Date): Buffer {
  const iso = date.toISOString();
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

// ---- catalogue conformance ----------------------------------------------------------------------

/** How an event's data differs from TOUCHPOINT_EVENT_CATALOG (empty when it matches). */
export function catalogMismatches(event: TouchpointEvent): string[] {
  const fields = TOUCHPOINT_EVENT_CATALOG[event.type];
  const data = event.data as unknown as Record<string, unknown>;
  const problems: string[] = [];
  const names = new Set(fields.map((f) => f.name));
  for (const key of Object.keys(data))
    if (!names.has(key)) problems.push(`${event.type}.${key}: not in the catalogue`);
  for (const field of fields) {
    const value = data[field.name];
    if (value === undefined) problems.push(`${event.type}.${field.name}: missing`);
    else if (value === null) {
      if (!field.nullable) problems.push(`${event.type}.${field.name}: null but not nullable`);
    } else if (!matches(field.type, value))
      problems.push(
        `${event.type}.${field.name}: ${JSON.stringify(value)} is not ${JSON.stringify(field.type)}`,
      );
  }
  if (event.occurredAt.getTime() !== (data['occurredAt'] as Date | undefined)?.getTime())
    problems.push(`${event.type}: occurredAt differs from data`);
  return problems;
}

function matches(type: CatalogFieldType, value: unknown): boolean {
  if (typeof type === 'object') return typeof value === 'string' && type.enum.includes(value);
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'int':
      return (
        typeof value === 'number' &&
        Number.isInteger(value) &&
        value >= -(2 ** 31) &&
        value < 2 ** 31
      );
    case 'boolean':
      return typeof value === 'boolean';
    case 'timestamp-millis':
      return value instanceof Date && Number.isFinite(value.getTime());
    case 'array<string>':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
  }
}
