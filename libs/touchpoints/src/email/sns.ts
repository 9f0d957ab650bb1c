import { createVerify, X509Certificate } from 'node:crypto';

import { TouchpointError } from '../errors';
import { decodeBase64Strict } from '../internal/crypto';
import { isRecord } from '../internal/reader';

export interface SnsVerificationConfig {
  /**
   * Topics this endpoint accepts. Required: every AWS account's topics are signed with the same
   * SNS certificates, so a valid signature alone proves only that the message came through SNS.
   */
  readonly topicArns: readonly string[];
  /**
   * Fetches the PEM certificate at a URL this library has already checked (https, host
   * sns.<region>.amazonaws.com, path *.pem). Cache results: SNS reuses its certificates.
   */
  readonly fetchCertificate: (url: string) => Promise<string>;
}

export type VerifiedSnsMessage =
  | {
      readonly type: 'Notification';
      readonly messageId: string;
      readonly topicArn: string;
      readonly timestamp: string;
      readonly subject: string | null;
      readonly message: string;
    }
  | {
      readonly type: 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
      readonly messageId: string;
      readonly topicArn: string;
      readonly timestamp: string;
      /** Checked like the certificate URL: https on sns.<region>.amazonaws.com. */
      readonly subscribeUrl: string;
      readonly token: string;
    };

const NOTIFICATION_FIELDS = [
  'Message',
  'MessageId',
  'Subject',
  'Timestamp',
  'TopicArn',
  'Type',
] as const;
const CONFIRMATION_FIELDS = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
] as const;
const SNS_HOST = /^sns\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_.-]{1,256}$/;

/** The region of an https URL on an SNS host, or null when the URL is not one. */
export function snsUrlRegion(raw: string, requirePem: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const host = SNS_HOST.exec(url.hostname);
  if (
    url.protocol !== 'https:' ||
    host === null ||
    url.port !== '' ||
    url.username !== '' ||
    url.password !== ''
  )
    return null;
  if (requirePem && !url.pathname.endsWith('.pem')) return null;
  return host[1] ?? null;
}

/**
 * Verifies an SNS message (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) over its canonical
 * string, with the certificate at a validated SigningCertURL. Never fetches an unchecked URL.
 */
export async function verifySnsMessageOrThrow(
  body: unknown,
  config: SnsVerificationConfig,
  now: Date,
): Promise<VerifiedSnsMessage> {
  if (!isRecord(body))
    throw new TouchpointError('MALFORMED_REQUEST', 'an SNS message is a JSON object');
  const type = body['Type'];
  if (
    type !== 'Notification' &&
    type !== 'SubscriptionConfirmation' &&
    type !== 'UnsubscribeConfirmation'
  ) {
    throw new TouchpointError('MALFORMED_REQUEST', 'unknown SNS message Type');
  }
  const fields = type === 'Notification' ? NOTIFICATION_FIELDS : CONFIRMATION_FIELDS;
  const strings: Record<string, string> = {};
  for (const name of [...fields, 'SignatureVersion', 'Signature', 'SigningCertURL']) {
    const value = body[name];
    if (value === undefined && name === 'Subject') continue;
    if (typeof value !== 'string') {
      const code = name.startsWith('Sign') ? 'MISSING_SIGNATURE' : 'MALFORMED_REQUEST';
      throw new TouchpointError(code, `the SNS message lacks ${name}`);
    }
    strings[name] = value;
  }
  const field = (name: string): string => strings[name] ?? '';

  const topicArn = field('TopicArn');
  const topic = TOPIC_ARN.exec(topicArn);
  if (topic === null || !config.topicArns.includes(topicArn)) {
    throw new TouchpointError('UNKNOWN_TOPIC', 'the SNS topic is not one this endpoint accepts');
  }
  const certUrl = field('SigningCertURL');
  const certRegion = snsUrlRegion(certUrl, true);
  if (certRegion === null || certRegion !== topic[1]) {
    throw new TouchpointError(
      'UNTRUSTED_CERTIFICATE_URL',
      'SigningCertURL is not an https SNS URL of the topic region',
    );
  }
  const algorithm = { '1': 'RSA-SHA1', '2': 'RSA-SHA256' }[field('SignatureVersion')];
  if (algorithm === undefined)
    throw new TouchpointError('INVALID_SIGNATURE', 'unknown SNS SignatureVersion');
  const signature = decodeBase64Strict(field('Signature'));
  if (signature === null)
    throw new TouchpointError('INVALID_SIGNATURE', 'the SNS signature is not base64');

  const certificate = await certificateOrThrow(config, certUrl, now);
  const canonical = fields
    .filter((name) => strings[name] !== undefined)
    .map((name) => `${name}\n${field(name)}\n`)
    .join('');
  let valid: boolean;
  try {
    valid = createVerify(algorithm)
      .update(canonical, 'utf8')
      .verify(certificate.publicKey, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new TouchpointError('INVALID_SIGNATURE', 'the SNS signature does not verify');

  const common = { messageId: field('MessageId'), topicArn, timestamp: field('Timestamp') };
  if (type === 'Notification') {
    return { type, ...common, subject: strings['Subject'] ?? null, message: field('Message') };
  }
  const subscribeUrl = field('SubscribeURL');
  if (snsUrlRegion(subscribeUrl, false) !== topic[1]) {
    throw new TouchpointError(
      'UNTRUSTED_CERTIFICATE_URL',
      'SubscribeURL is not an https SNS URL of the topic region',
    );
  }
  return { type, ...common, subscribeUrl, token: field('Token') };
}

async function certificateOrThrow(
  config: SnsVerificationConfig,
  url: string,
  now: Date,
): Promise<X509Certificate> {
  let pem: string;
  try {
    pem = await config.fetchCertificate(url);
  } catch (error: unknown) {
    throw new TouchpointError(
      'CERTIFICATE_UNAVAILABLE',
      'the SNS signing certificate could not be fetched',
      { cause: error },
    );
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error: unknown) {
    throw new TouchpointError(
      'INVALID_CERTIFICATE',
      'the SNS signing certificate is not an X.509 certificate',
      { cause: error },
    );
  }
  const t = now.getTime();
  if (t < Date.parse(certificate.validFrom) || t > Date.parse(certificate.validTo)) {
    throw new TouchpointError(
      'INVALID_CERTIFICATE',
      'the SNS signing certificate is not valid now',
    );
  }
  if (certificate.publicKey.asymmetricKeyType !== 'rsa') {
    throw new TouchpointError(
      'INVALID_CERTIFICATE',
      'the SNS signing certificate does not hold an RSA key',
    );
  }
  return certificate;
}
