/** Every reason a customer can be flagged for, in the order reasons are listed. */
export const CHURN_REASON_CODES = [
  'model-p-alive-low',
  'unsubscribed',
  'overdue-contact',
  'falling-visits',
  'hard-bounces',
  'complaint',
  'unresolved-ticket',
  'missed-calls',
] as const;
export type ChurnReasonCode = (typeof CHURN_REASON_CODES)[number];

export function isChurnReasonCode(value: string): value is ChurnReasonCode {
  return (CHURN_REASON_CODES as readonly string[]).includes(value);
}

/**
 * What each rule looks at and when it fires. Keys are the reason codes, so a setting is named
 * `<reason-code>.<setting>` everywhere: API overrides, TOUCHLINE_CHURN_CONFIG, docs, stored
 * evaluations. `weight` is the rule's share of the risk score (see evaluateCustomerChurn).
 */
export interface ChurnConfig {
  readonly 'model-p-alive-low': {
    readonly enabled: boolean;
    /** Flag when P(alive) under the latest fitted BG/NBD model, as of the evaluation, is below this. */
    readonly threshold: number;
  };
  readonly 'overdue-contact': {
    readonly enabled: boolean;
    readonly weight: number;
    /** Flag when the days since the last contact day reach multiplier × the usual gap. */
    readonly multiplier: number;
    readonly statistic: 'median' | 'mean';
    /** Contact days needed before a usual gap means anything (gaps = days − 1). */
    readonly minContactDays: number;
    /** Never flag a silence shorter than this, whatever the usual gap (daily visitors). */
    readonly minSilenceDays: number;
    /** The usual gap is taken over at most this many of the latest contact days. */
    readonly historyContactDays: number;
    /** Event types that count as the customer being in contact. */
    readonly contactTypes: readonly string[];
  };
  readonly unsubscribed: {
    readonly enabled: boolean;
    readonly weight: number;
    /** Only opt-outs this recent count; null: any time before the evaluation. */
    readonly withinDays: number | null;
    /** An unsubscribe from one list (scope `list`) counts too. */
    readonly includeListUnsubscribes: boolean;
    /** EmailMarkedAsSpam counts as an opt-out. */
    readonly includeSpamComplaints: boolean;
  };
  readonly 'hard-bounces': {
    readonly enabled: boolean;
    readonly weight: number;
    readonly minCount: number;
    readonly windowDays: number;
  };
  readonly 'missed-calls': {
    readonly enabled: boolean;
    readonly weight: number;
    readonly minCount: number;
    readonly windowDays: number;
    readonly directions: readonly ('inbound' | 'outbound')[];
  };
  readonly 'unresolved-ticket': {
    readonly enabled: boolean;
    readonly weight: number;
    /** A ticket still open this many days after it was opened. */
    readonly olderThanDays: number;
  };
  readonly complaint: {
    readonly enabled: boolean;
    readonly weight: number;
    readonly minCount: number;
    readonly windowDays: number;
    /** Case-insensitive substrings of an outcome or call disposition that make it negative. */
    readonly outcomePatterns: readonly string[];
  };
  readonly 'falling-visits': {
    readonly enabled: boolean;
    readonly weight: number;
    /** Visits in the last windowDays against the windowDays before. */
    readonly windowDays: number;
    /** The earlier window needs at least this many visits (a habit to fall from). */
    readonly minPreviousVisits: number;
    /** Flag when recent < maxRatio × previous. */
    readonly maxRatio: number;
    /** A gap longer than this starts a new visit (the web_sessions rule). */
    readonly sessionTimeoutMinutes: number;
    readonly visitTypes: readonly string[];
  };
}

/** The settings evaluations use unless the server's TOUCHLINE_CHURN_CONFIG or a request overrides them. */
export const DEFAULT_CHURN_CONFIG: ChurnConfig = {
  'model-p-alive-low': { enabled: true, threshold: 0.3 },
  'overdue-contact': {
    enabled: true,
    weight: 0.5,
    multiplier: 3,
    statistic: 'median',
    minContactDays: 4,
    minSilenceDays: 14,
    historyContactDays: 50,
    contactTypes: [
      'WebPageViewed',
      'ScreenViewed',
      'WebEventTracked',
      'ProductViewed',
      'ProductAdded',
      'OrderCompleted',
      'EmailOpened',
      'EmailLinkClicked',
      'CallEnded',
      'VoicemailLeft',
      'SmsReceived',
      'StoreVisited',
      'MeetingHeld',
      'SupportTicketOpened',
    ],
  },
  unsubscribed: {
    enabled: true,
    weight: 0.6,
    withinDays: null,
    includeListUnsubscribes: true,
    includeSpamComplaints: true,
  },
  'hard-bounces': { enabled: true, weight: 0.3, minCount: 2, windowDays: 90 },
  'missed-calls': {
    enabled: true,
    weight: 0.2,
    minCount: 3,
    windowDays: 30,
    directions: ['inbound', 'outbound'],
  },
  'unresolved-ticket': { enabled: true, weight: 0.3, olderThanDays: 7 },
  complaint: {
    enabled: true,
    weight: 0.4,
    minCount: 1,
    windowDays: 90,
    outcomePatterns: [
      'complain',
      'escalat',
      'dissatisf',
      'unhappy',
      'cancel',
      'unresolved',
      'not resolved',
    ],
  },
  'falling-visits': {
    enabled: true,
    weight: 0.3,
    windowDays: 30,
    minPreviousVisits: 4,
    maxRatio: 0.5,
    sessionTimeoutMinutes: 30,
    visitTypes: [
      'WebPageViewed',
      'ScreenViewed',
      'WebEventTracked',
      'ProductViewed',
      'ProductAdded',
      'OrderCompleted',
    ],
  },
};

/** Per-customer lists are capped at this many rows; count thresholds may not exceed it. */
export const CHURN_MAX_LISTED = 100;

type Setting =
  | { readonly kind: 'boolean' }
  | {
      readonly kind: 'number';
      readonly min: number;
      readonly max: number;
      readonly integer?: boolean;
      readonly nullable?: boolean;
    }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | {
      readonly kind: 'list';
      readonly values?: readonly string[];
      readonly pattern?: RegExp;
      readonly maxItems: number;
      readonly maxLength: number;
    };

const enabled: Setting = { kind: 'boolean' };
const weight: Setting = { kind: 'number', min: 0, max: 1 };
const days: Setting = { kind: 'number', min: 1, max: 3_660, integer: true };
const count: Setting = { kind: 'number', min: 1, max: CHURN_MAX_LISTED, integer: true };
const eventTypes: Setting = {
  kind: 'list',
  pattern: /^[A-Z][A-Za-z]{0,63}$/,
  maxItems: 50,
  maxLength: 64,
};

/** What each setting may be; checked against ChurnConfig by the type below. */
const SETTINGS: {
  readonly [R in ChurnReasonCode]: { readonly [S in keyof ChurnConfig[R]]: Setting };
} = {
  'model-p-alive-low': { enabled, threshold: { kind: 'number', min: 0, max: 1 } },
  'overdue-contact': {
    enabled,
    weight,
    multiplier: { kind: 'number', min: 1, max: 100 },
    statistic: { kind: 'enum', values: ['median', 'mean'] },
    minContactDays: { kind: 'number', min: 2, max: 1_000, integer: true },
    minSilenceDays: { kind: 'number', min: 0, max: 3_660, integer: true },
    historyContactDays: { kind: 'number', min: 2, max: 1_000, integer: true },
    contactTypes: eventTypes,
  },
  unsubscribed: {
    enabled,
    weight,
    withinDays: { ...days, nullable: true },
    includeListUnsubscribes: enabled,
    includeSpamComplaints: enabled,
  },
  'hard-bounces': { enabled, weight, minCount: count, windowDays: days },
  'missed-calls': {
    enabled,
    weight,
    minCount: count,
    windowDays: days,
    directions: { kind: 'list', values: ['inbound', 'outbound'], maxItems: 2, maxLength: 8 },
  },
  'unresolved-ticket': { enabled, weight, olderThanDays: days },
  complaint: {
    enabled,
    weight,
    minCount: count,
    windowDays: days,
    outcomePatterns: { kind: 'list', maxItems: 50, maxLength: 100 },
  },
  'falling-visits': {
    enabled,
    weight,
    windowDays: days,
    minPreviousVisits: { kind: 'number', min: 1, max: 100_000, integer: true },
    maxRatio: { kind: 'number', min: 0, max: 1 },
    sessionTimeoutMinutes: { kind: 'number', min: 1, max: 1_440, integer: true },
    visitTypes: eventTypes,
  },
};

export interface ChurnConfigIssue {
  /** Where the problem is, from the caller's prefix: `config.overdue-contact.multiplier`. */
  readonly path: string;
  readonly message: string;
}

export type ChurnConfigResult =
  | { readonly ok: true; readonly config: ChurnConfig }
  | { readonly ok: false; readonly issues: readonly ChurnConfigIssue[] };

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkSetting(setting: Setting, value: unknown): string | null {
  switch (setting.kind) {
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'number': {
      if (value === null && setting.nullable) return null;
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        value >= setting.min &&
        value <= setting.max &&
        (!setting.integer || Number.isInteger(value));
      return ok
        ? null
        : `must be ${setting.integer ? 'an integer' : 'a number'} from ${setting.min} to ${setting.max}${setting.nullable ? ', or null' : ''}`;
    }
    case 'enum':
      return typeof value === 'string' && setting.values.includes(value)
        ? null
        : `must be one of ${setting.values.join(', ')}`;
    case 'list': {
      if (!Array.isArray(value) || value.length > setting.maxItems)
        return `must be a list of at most ${setting.maxItems} strings`;
      for (const item of value as unknown[]) {
        if (typeof item !== 'string' || item.length === 0 || item.length > setting.maxLength)
          return `must hold strings of 1 to ${setting.maxLength} characters`;
        if (setting.values && !setting.values.includes(item))
          return `may only hold ${setting.values.join(', ')}`;
        if (setting.pattern && !setting.pattern.test(item))
          return `"${item.slice(0, 64)}" is not an event type name`;
      }
      return null;
    }
  }
}

/**
 * `base` with `overrides` (a partial config, e.g. `{ "overdue-contact": { "multiplier": 4 } }`)
 * applied, or every problem with its path. Unknown rules and settings are problems, not ignored:
 * a typo must not silently leave a default in place.
 */
export function resolveChurnConfig(
  overrides: unknown,
  base: ChurnConfig = DEFAULT_CHURN_CONFIG,
  prefix = 'config',
): ChurnConfigResult {
  if (overrides === undefined || overrides === null) return { ok: true, config: base };
  if (!isObject(overrides))
    return { ok: false, issues: [{ path: prefix, message: 'must be an object' }] };
  const issues: ChurnConfigIssue[] = [];
  const merged: Record<string, Record<string, unknown>> = {};
  for (const code of CHURN_REASON_CODES) merged[code] = { ...base[code] };
  for (const [rule, settings] of Object.entries(overrides)) {
    const path = `${prefix}.${rule}`;
    if (!isChurnReasonCode(rule)) {
      issues.push({ path, message: `unknown rule; known: ${CHURN_REASON_CODES.join(', ')}` });
      continue;
    }
    if (!isObject(settings)) {
      issues.push({ path, message: 'must be an object' });
      continue;
    }
    const known = SETTINGS[rule] as Readonly<Record<string, Setting>>;
    for (const [name, value] of Object.entries(settings)) {
      const setting = known[name];
      if (setting === undefined) {
        issues.push({
          path: `${path}.${name}`,
          message: `unknown setting; known: ${Object.keys(known).join(', ')}`,
        });
        continue;
      }
      const problem = checkSetting(setting, value);
      if (problem === null) merged[rule]![name] = value;
      else issues.push({ path: `${path}.${name}`, message: problem });
    }
  }
  return issues.length > 0
    ? { ok: false, issues }
    : { ok: true, config: merged as unknown as ChurnConfig };
}
