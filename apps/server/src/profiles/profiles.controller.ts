import { decodeCursorOrThrow } from '../common/pair-cursor';
import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { normalizeEmail, normalizePhoneE164 } from '@touchline/touchpoints';
import { limitParam, uuidParam } from '../admin/request-parsing';
import { ApiKeyGuard, RequireRole } from '../auth/api-key.guard';
import { ProfileAsOf, type ProfileAsOfDto } from './profile-as-of';
import { TouchlineException } from '../common/touchline.exception';
import { parseInstant } from '../common/instant';
import {
  type Page,
  type ProfileDto,
  ProfileQueries,
  type ProfileSearch,
  type SessionDto,
  SORT_COLUMNS,
  type SortKey,
  type TimelineEntryDto,
} from './profile-queries';

type QueryParams = Record<string, string | string[] | undefined>;

const CHANNELS = ['web', 'email', 'phone', 'other'] as const;
type Channel = (typeof CHANNELS)[number];
const LOOKUP_PARAMS = ['email', 'phone', 'userId', 'anonymousId', 'externalId'] as const;
const SEARCH_PARAMS = [
  'lastSeenFrom',
  'lastSeenTo',
  'channel',
  'minEvents',
  'sort',
  'order',
  'limit',
  'cursor',
];
const MAX_ID = 512;
const TRAIT_PARAM = /^trait\.(.*)$/s;
const TRAIT_PARAM_DEEP_OBJECT = /^trait\[(.*)\]$/s;
const TIMESTAMP_TEXT =
  /^(-infinity|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z))$/;
const NUMERIC_TEXT = /^-?\d{1,30}(\.\d{1,30})?$/;

const bad = (message: string) => new TouchlineException('INVALID_REQUEST', message);

/** One value of a parameter that may not repeat; a repeated one is a 400 naming it. */
function single(query: QueryParams, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw bad(`${name} may be given once`);
  return value;
}

/** `a,b` or repeated `?x=a&x=b`, each checked against the allowed values. */
function list<T extends string>(
  query: QueryParams,
  name: string,
  allowed: readonly T[] | RegExp,
): T[] | null {
  const raw = query[name];
  if (raw === undefined) return null;
  const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(','));
  if (values.length > 20) throw bad(`${name} takes at most 20 values`);
  for (const value of values) {
    const ok = Array.isArray(allowed)
      ? (allowed as readonly string[]).includes(value)
      : (allowed as RegExp).test(value);
    if (!ok) {
      throw bad(
        Array.isArray(allowed)
          ? `${name} must be one of ${allowed.join(', ')}`
          : `${name} has a malformed value`,
      );
    }
  }
  return values as T[];
}

function orderParam(query: QueryParams, fallback: 'asc' | 'desc'): 'asc' | 'desc' {
  const order = single(query, 'order');
  if (order === undefined) return fallback;
  if (order !== 'asc' && order !== 'desc') throw bad('order must be asc or desc');
  return order;
}

function dateParam(query: QueryParams, name: string): Date | null {
  const value = single(query, name);
  if (value === undefined) return null;
  // A zone-less date-time is UTC, whatever the server's zone.
  const date = value.length > 40 ? null : parseInstant(value);
  if (date === null) throw bad(`${name} must be an ISO-8601 date or date-time`);
  return date;
}

function customerIdParam(id: string): string {
  return uuidParam('customerId', id);
}

@ApiTags('profiles')
@ApiBearerAuth('apiKey')
@Controller('v1/profiles')
@UseGuards(ApiKeyGuard)
@RequireRole('analyst')
export class ProfilesController {
  constructor(
    private readonly queries: ProfileQueries,
    private readonly asOfQueries: ProfileAsOf,
  ) {}

  @Get('lookup')
  @ApiOperation({
    summary: 'The unified profile of the customer an identifier belongs to',
    description:
      'Exactly one of the parameters. Emails and phone numbers are normalized as at the edge (case and spaces; E.164 with its + prefix).',
  })
  @ApiQuery({ name: 'email', required: false })
  @ApiQuery({ name: 'phone', required: false, description: 'E.164, e.g. +442079460958' })
  @ApiQuery({ name: 'userId', required: false })
  @ApiQuery({ name: 'anonymousId', required: false })
  @ApiQuery({ name: 'externalId', required: false, description: '<system>:<id>, e.g. crm:42' })
  @ApiResponse({ status: 400, description: 'None or several identifiers, or a malformed one' })
  @ApiResponse({ status: 404, description: 'No customer has this identifier' })
  async lookup(@Query() query: QueryParams): Promise<ProfileDto> {
    const unknown = Object.keys(query).filter(
      (name) => !(LOOKUP_PARAMS as readonly string[]).includes(name),
    );
    if (unknown.length > 0)
      throw bad(`unknown parameter ${unknown[0] ?? ''}; use one of ${LOOKUP_PARAMS.join(', ')}`);
    const given = LOOKUP_PARAMS.filter((name) => query[name] !== undefined);
    if (given.length !== 1 || given[0] === undefined) {
      throw bad(`give exactly one of ${LOOKUP_PARAMS.join(', ')}`);
    }
    const name = given[0];
    const raw = single(query, name) ?? '';
    if (raw.length === 0 || raw.length > MAX_ID)
      throw bad(`${name} must be 1 to ${MAX_ID} characters`);
    let canonical: string;
    let described: string;
    if (name === 'email') {
      const email = normalizeEmail(raw);
      if (!email.ok) throw bad(`email is not an email address: ${email.message}`);
      canonical = `email:${email.value}`;
      described = 'email address';
    } else if (name === 'phone') {
      const phone = normalizePhoneE164(raw);
      if (!phone.ok) throw bad(`phone is not an E.164 phone number: ${phone.message}`);
      canonical = `phone:${phone.value}`;
      described = 'phone number';
    } else if (name === 'externalId') {
      if (!/^[^:]+:.+$/.test(raw)) throw bad('externalId must be <system>:<id>, e.g. crm:42');
      canonical = `externalId:${raw}`;
      described = 'external id';
    } else {
      canonical = `${name}:${raw}`;
      described = name;
    }
    const customerId = await this.queries.customerIdByIdentifierOrThrow(canonical, described);
    return this.queries.profileOrThrow(customerId);
  }

  @Get()
  @ApiOperation({
    summary:
      'Search profiles: by trait, last-seen range and channel activity, sorted, paged by cursor',
    description:
      'Every filter given must match. Sorted by `sort`, ties broken by customer id, so pages never skip or repeat a profile; nextCursor fetches the next page.',
  })
  @ApiQuery({
    name: 'trait',
    required: false,
    style: 'deepObject',
    explode: true,
    schema: { type: 'object', additionalProperties: { type: 'string' } },
    description:
      'trait.<name>=<value> or trait[<name>]=<value>, e.g. trait.plan=pro; several traits (at most 10) must all match',
  })
  @ApiQuery({ name: 'lastSeenFrom', required: false, description: 'ISO-8601, inclusive' })
  @ApiQuery({ name: 'lastSeenTo', required: false, description: 'ISO-8601, exclusive' })
  @ApiQuery({
    name: 'channel',
    required: false,
    description:
      'web, email, phone, other; comma-separated or repeated: at least minEvents on each, e.g. web,email',
    schema: { type: 'string', example: 'web,email' },
  })
  @ApiQuery({ name: 'minEvents', required: false, description: 'Whole number >= 1, default 1' })
  @ApiQuery({ name: 'sort', required: false, enum: Object.keys(SORT_COLUMNS) })
  @ApiQuery({ name: 'order', required: false, enum: ['asc', 'desc'] })
  @ApiQuery({ name: 'limit', required: false, description: '1..500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiResponse({ status: 400, description: 'An unknown or malformed parameter, named' })
  async search(@Query() query: QueryParams): Promise<Page<ProfileDto>> {
    const traits: { name: string; value: string }[] = [];
    for (const name of Object.keys(query)) {
      // trait.plan=pro, or trait[plan]=pro as OpenAPI's deepObject style (client generators).
      const trait = TRAIT_PARAM.exec(name)?.[1] ?? TRAIT_PARAM_DEEP_OBJECT.exec(name)?.[1];
      if (trait !== undefined) {
        const value = single(query, name) ?? '';
        if (trait.length === 0 || trait.length > 100)
          throw bad(`${name}: a trait name is 1 to 100 characters`);
        if (value.length > 500) throw bad(`${name}: the value is at most 500 characters`);
        traits.push({ name: trait, value });
      } else if (!SEARCH_PARAMS.includes(name)) {
        throw bad(
          `unknown parameter ${name.slice(0, 100)}; known: trait.<name> or trait[<name>], ${SEARCH_PARAMS.join(', ')}`,
        );
      }
    }
    if (traits.length > 10) throw bad('at most 10 trait filters');
    const sort = (single(query, 'sort') ?? 'lastSeenAt') as SortKey;
    if (!(sort in SORT_COLUMNS))
      throw bad(`sort must be one of ${Object.keys(SORT_COLUMNS).join(', ')}`);
    const minEventsText = single(query, 'minEvents');
    if (
      minEventsText !== undefined &&
      (!/^\d{1,9}$/.test(minEventsText) || Number(minEventsText) < 1)
    ) {
      throw bad('minEvents must be a whole number >= 1');
    }
    const cursor = single(query, 'cursor');
    let after: ProfileSearch['after'] = null;
    if (cursor !== undefined) {
      const [value, customerId] = decodeCursorOrThrow(cursor);
      const pattern =
        sort === 'lastSeenAt' || sort === 'firstSeenAt' ? TIMESTAMP_TEXT : NUMERIC_TEXT;
      if (!pattern.test(value) || customerId.length > 64) {
        throw bad('cursor does not belong to this sort; start again without a cursor');
      }
      after = { value, customerId };
    }
    return this.queries.search({
      traits,
      lastSeenFrom: dateParam(query, 'lastSeenFrom'),
      lastSeenTo: dateParam(query, 'lastSeenTo'),
      channels: list<Channel>(query, 'channel', CHANNELS) ?? [],
      minEvents: minEventsText === undefined ? 1 : Number(minEventsText),
      sort,
      order: orderParam(query, 'desc'),
      limit: limitParam(single(query, 'limit'), 50, 500),
      after,
    });
  }

  @Get(':customerId')
  @ApiOperation({
    summary:
      'The unified profile: identifiers, traits, first and last seen, activity per channel, last contact and what it was about, orders and revenue, consent',
  })
  @ApiParam({
    name: 'customerId',
    description: 'The customer id (a UUID) from a lookup or a search',
  })
  @ApiResponse({ status: 400, description: 'customerId is not a UUID' })
  @ApiResponse({ status: 404, description: 'No customer with this id' })
  async profile(@Param('customerId') customerId: string): Promise<ProfileDto> {
    return this.queries.profileOrThrow(customerIdParam(customerId));
  }

  @Get(':customerId/merges')
  @ApiOperation({
    summary:
      'Why these identifiers are one customer: every accepted and refused link with its evidence event',
  })
  @ApiResponse({ status: 404, description: 'No customer with this id' })
  async merges(@Param('customerId') customerId: string) {
    return this.queries.mergesOrThrow(customerIdParam(customerId));
  }

  @Get(':customerId/as-of')
  @ApiOperation({
    summary: 'The profile as it was at a past time, computed on demand from the event history',
    description:
      "Replays the history of the customer's identifiers up to `at` (event time) through the profile projection, into a transaction that is rolled back. Usually one profile; several when the identifiers were still apart then.",
  })
  @ApiQuery({ name: 'at', required: true, description: 'ISO-8601 date or date-time' })
  @ApiResponse({ status: 400, description: '`at` missing or malformed' })
  @ApiResponse({ status: 404, description: 'No customer with this id' })
  async asOf(
    @Param('customerId') customerId: string,
    @Query() query: QueryParams,
  ): Promise<ProfileAsOfDto> {
    const unknown = Object.keys(query).find((name) => name !== 'at');
    if (unknown !== undefined) throw bad(`unknown parameter ${unknown.slice(0, 100)}; known: at`);
    const at = dateParam(query, 'at');
    if (at === null) throw bad('at is required: an ISO-8601 date or date-time');
    // A date alone means the end of that day (UTC), as `clv fit --as-of` and churn read it.
    if (/^\d{4}-\d{2}-\d{2}$/.test(single(query, 'at') ?? '')) at.setUTCHours(23, 59, 59, 999);
    return this.asOfQueries.profileAsOfOrThrow(customerIdParam(customerId), at);
  }

  @Get(':customerId/sessions')
  @ApiOperation({
    summary:
      "Web sessions across all of the customer's identifiers (anonymous history included), newest first",
  })
  @ApiQuery({ name: 'limit', required: false, description: '1..500, default 50' })
  @ApiResponse({ status: 404, description: 'No customer with this id' })
  async sessions(
    @Param('customerId') customerId: string,
    @Query() query: QueryParams,
  ): Promise<{ items: SessionDto[] }> {
    const unknown = Object.keys(query).find((name) => name !== 'limit');
    if (unknown !== undefined)
      throw bad(`unknown parameter ${unknown.slice(0, 100)}; known: limit`);
    return this.queries.sessionsOrThrow(
      customerIdParam(customerId),
      limitParam(single(query, 'limit'), 50, 500),
    );
  }

  @Get(':customerId/timeline')
  @ApiOperation({
    summary:
      'Every touchpoint of the customer across channels in event-time order, paged by cursor',
  })
  @ApiQuery({
    name: 'channel',
    required: false,
    description: 'web, email, phone, other; comma list or repeated',
  })
  @ApiQuery({
    name: 'type',
    required: false,
    description: 'event types, e.g. EmailOpened; comma list or repeated',
  })
  @ApiQuery({ name: 'order', required: false, enum: ['asc', 'desc'] })
  @ApiQuery({ name: 'limit', required: false, description: '1..500, default 50' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page' })
  @ApiResponse({ status: 400, description: 'A malformed parameter, named' })
  @ApiResponse({ status: 404, description: 'No customer with this id' })
  async timeline(
    @Param('customerId') customerId: string,
    @Query() query: QueryParams,
  ): Promise<Page<TimelineEntryDto>> {
    const known = ['channel', 'type', 'order', 'limit', 'cursor'];
    const unknown = Object.keys(query).find((name) => !known.includes(name));
    if (unknown !== undefined)
      throw bad(`unknown parameter ${unknown.slice(0, 100)}; known: ${known.join(', ')}`);
    const cursor = single(query, 'cursor');
    let after: { occurredAt: string; eventId: string } | null = null;
    if (cursor !== undefined) {
      const [occurredAt, eventId] = decodeCursorOrThrow(cursor);
      if (!TIMESTAMP_TEXT.test(occurredAt) || eventId.length > 200) {
        throw bad('cursor is not a cursor this API returned; pass nextCursor unchanged');
      }
      after = { occurredAt, eventId };
    }
    return this.queries.timelineOrThrow(customerIdParam(customerId), {
      channels: list<Channel>(query, 'channel', CHANNELS),
      types: list(query, 'type', /^[A-Za-z]{1,64}$/),
      order: orderParam(query, 'asc'),
      limit: limitParam(single(query, 'limit'), 50, 500),
      after,
    });
  }
}
