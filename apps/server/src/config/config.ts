import path from 'node:path';
import { z } from 'zod';
import { MASTER_KEY_BYTES } from '../privacy/crypto/master-key';

export const ROLES = ['collector', 'recorder', 'projector', 'query'] as const;
export type Role = (typeof ROLES)[number];

const rolesSchema = z
  .string()
  .default(ROLES.join(','))
  .transform((value) =>
    value
      .split(',')
      .map((role) => role.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(ROLES)).min(1, 'name at least one role'));

const urlSchema = (protocols: readonly string[]) =>
  z
    .string()
    .url()
    .refine((value) => protocols.some((p) => value.startsWith(`${p}://`)), {
      message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    });

const brokersSchema = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((broker) => broker.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'each broker must be host:port'))
      .min(1, 'name at least one broker as host:port'),
  );

const envSchema = z.object({
  TOUCHLINE_ROLES: rolesSchema,
  DATABASE_URL: urlSchema(['postgres', 'postgresql']).optional(),
  KAFKA_BROKERS: brokersSchema.optional(),
  TOUCHLINE_DATA_DIR: z.string().min(1).default('./data'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  TOUCHLINE_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
  KAFKA_CLIENT_ID: z.string().min(1).default('touchline'),
  /** Events a second one write key may send to one collector process, unless its source sets its own. */
  /** Base URL the world uses to reach this collector (Twilio signs the exact URL it called). */
  TOUCHLINE_PUBLIC_URL: urlSchema(['http', 'https']).optional(),
  /** Secrets that sign tracked email links and open pixels; the first signs, all verify (rotation). */
  TOUCHLINE_LINK_SECRETS: z.string().optional(),
  /** Country for phone numbers written without a country code (ISO 3166 alpha-2, e.g. US). */
  TOUCHLINE_DEFAULT_COUNTRY: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be a two-letter country code')
    .optional(),
  SENDGRID_WEBHOOK_PUBLIC_KEY: z.string().min(1).optional(),
  MAILGUN_WEBHOOK_SIGNING_KEY: z.string().min(1).optional(),
  SES_SNS_TOPIC_ARNS: z.string().min(1).optional(),
  POSTMARK_WEBHOOK_CREDENTIALS: z
    .string()
    .regex(/^[^:]+:.+$/, 'must be user:password')
    .optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TOUCHLINE_RATE_LIMIT_EVENTS_PER_SECOND: z.coerce.number().int().min(1).default(50_000),
  TOUCHLINE_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,100}$/, "use letters, digits, '.', '_' or '-'")
    .default('touchline'),
  /** How long a rejected event's raw payload is kept in the dead-letter topic (Kafka retention). */
  TOUCHLINE_DEAD_LETTER_RETENTION_DAYS: z.coerce.number().int().min(1).default(14),
  /**
   * How long the raw ingest topics keep events (Kafka retention). They hold personal data in the
   * clear until the recorder has stored it, so the window is bounded; days, at most a year.
   */
  TOUCHLINE_INGEST_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  /**
   * The one secret of crypto-shredding (base64 of 32 bytes): pseudonyms and the wrapping of every
   * customer's data key derive from it. Generated into the data directory outside production.
   */
  TOUCHLINE_MASTER_KEY: z
    .string()
    .refine((value) => isMasterKey(value), {
      message: `must be base64 of ${MASTER_KEY_BYTES} bytes (generate one with: openssl rand -base64 32)`,
    })
    .optional(),
  NODE_ENV: z.string().optional(),
});

/** Base64 (standard or URL-safe) that decodes to exactly the master key's length. */
function isMasterKey(value: string): boolean {
  return (
    /^[A-Za-z0-9+/_-]+={0,2}$/.test(value.trim()) &&
    Buffer.from(value.trim(), 'base64').length === MASTER_KEY_BYTES
  );
}

export interface TouchlineConfig {
  readonly roles: ReadonlySet<Role>;
  readonly database:
    | { readonly kind: 'embedded'; readonly dataDir: string }
    | { readonly kind: 'postgres'; readonly url: string };
  readonly transport:
    | { readonly kind: 'in-process' }
    | {
        readonly kind: 'kafka';
        readonly brokers: readonly string[];
        readonly clientId: string;
        readonly partitions: number;
        readonly deadLetterRetentionMs: number;
        readonly ingestRetentionMs: number;
      };
  readonly dataDir: string;
  /** Namespace of topics and consumer groups on a shared Kafka cluster. */
  readonly topicPrefix: string;
  readonly rateLimitEventsPerSecond: number;
  readonly publicUrl: string | null;
  readonly defaultCountry: string | null;
  /** Provider credentials; a provider without them answers 404 "not configured". */
  readonly touchpoints: {
    readonly linkSecrets: readonly string[];
    readonly sendgridPublicKey: string | null;
    readonly mailgunSigningKey: string | null;
    readonly sesTopicArns: readonly string[];
    readonly postmarkCredentials: { readonly username: string; readonly password: string } | null;
    readonly twilioAuthToken: string | null;
  };
  readonly http: { readonly host: string; readonly port: number };
  /**
   * The master key of crypto-shredding: given (TOUCHLINE_MASTER_KEY), or, outside production,
   * read from (or generated into) `file` at start-up.
   */
  readonly masterKey:
    | { readonly kind: 'given'; readonly key: Buffer }
    | { readonly kind: 'file'; readonly file: string };
  readonly logLevel: z.infer<typeof envSchema>['TOUCHLINE_LOG_LEVEL'];
}

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIGURATION';
}

/** Validate the environment once at start-up; every problem is reported with the variable's name. */
export function loadConfigOrThrow(env: NodeJS.ProcessEnv): TouchlineConfig {
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.length > 0 ? String(issue.path[0]) : '(environment)';
      const value = env[String(issue.path[0])];
      // Never echo a value that may hold a password (DATABASE_URL).
      const shown =
        value !== undefined && !/URL|KEY|SECRET|PASSWORD|TOKEN|CREDENTIALS/.test(name)
          ? ` (got "${value}")`
          : '';
      return `  ${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  }
  const values = parsed.data;
  const roles = new Set(values.TOUCHLINE_ROLES);
  const dataDir = path.resolve(values.TOUCHLINE_DATA_DIR);
  if (!values.KAFKA_BROKERS && !(roles.has('collector') === roles.has('recorder'))) {
    throw new ConfigError(
      'Invalid configuration:\n  KAFKA_BROKERS: required when the collector and the recorder run in separate processes ' +
        '(without Kafka, events go from the collector to the recorder inside one process)',
    );
  }
  if (!values.DATABASE_URL && roles.size < ROLES.length) {
    throw new ConfigError(
      'Invalid configuration:\n  DATABASE_URL: required when roles run in separate processes ' +
        '(the embedded database lives inside one process)',
    );
  }
  if (!values.TOUCHLINE_MASTER_KEY && values.NODE_ENV === 'production') {
    throw new ConfigError(
      'Invalid configuration:\n  TOUCHLINE_MASTER_KEY: required when NODE_ENV=production (it protects every ' +
        "customer's personal data). Generate one with `openssl rand -base64 32`, keep it in your secret " +
        'store and give every process the same value; losing it makes the stored personal data unreadable.',
    );
  }
  return {
    roles,
    database: values.DATABASE_URL
      ? { kind: 'postgres', url: values.DATABASE_URL }
      : { kind: 'embedded', dataDir: path.join(dataDir, 'pglite') },
    transport: values.KAFKA_BROKERS
      ? {
          kind: 'kafka',
          brokers: values.KAFKA_BROKERS,
          clientId: values.KAFKA_CLIENT_ID,
          partitions: values.KAFKA_TOPIC_PARTITIONS,
          deadLetterRetentionMs: values.TOUCHLINE_DEAD_LETTER_RETENTION_DAYS * 24 * 3600 * 1000,
          ingestRetentionMs: values.TOUCHLINE_INGEST_RETENTION_DAYS * 24 * 3600 * 1000,
        }
      : { kind: 'in-process' },
    dataDir,
    topicPrefix: values.TOUCHLINE_TOPIC_PREFIX,
    rateLimitEventsPerSecond: values.TOUCHLINE_RATE_LIMIT_EVENTS_PER_SECOND,
    publicUrl: values.TOUCHLINE_PUBLIC_URL?.replace(/\/$/, '') ?? null,
    defaultCountry: values.TOUCHLINE_DEFAULT_COUNTRY ?? null,
    touchpoints: {
      linkSecrets: list(values.TOUCHLINE_LINK_SECRETS),
      sendgridPublicKey: values.SENDGRID_WEBHOOK_PUBLIC_KEY ?? null,
      mailgunSigningKey: values.MAILGUN_WEBHOOK_SIGNING_KEY ?? null,
      sesTopicArns: list(values.SES_SNS_TOPIC_ARNS),
      postmarkCredentials: credentials(values.POSTMARK_WEBHOOK_CREDENTIALS),
      twilioAuthToken: values.TWILIO_AUTH_TOKEN ?? null,
    },
    http: { host: values.HOST, port: values.PORT },
    masterKey: values.TOUCHLINE_MASTER_KEY
      ? { kind: 'given', key: Buffer.from(values.TOUCHLINE_MASTER_KEY.trim(), 'base64') }
      : { kind: 'file', file: path.join(dataDir, 'master.key') },
    logLevel: values.TOUCHLINE_LOG_LEVEL,
  };
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function credentials(value: string | undefined): { username: string; password: string } | null {
  if (!value) return null;
  const colon = value.indexOf(':');
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}
