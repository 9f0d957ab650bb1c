/**
 * One statement per fact family, each for a whole batch of customers ($1: customer ids) as of
 * $2 (only events at or before it). Every touchpoint reaches its customer through the identifier
 * it is attributed to (customer_identifiers → customer_touchpoints, both indexed); fields the
 * timeline does not keep (bounce type, call direction, ticket id, outcome) come from the stored
 * event by its unique event id. Lists are capped per customer (the newest rows) by $cap.
 *
 * The stored event's personal-data fields are sealed (crypto-shredding, docs/security.md), so
 * these statements read only fields no schema marks as personal: a bounce's `bounceType` (hard or
 * soft), never its free-text `reason`; a missed call's `reason` enum and `direction`; outcomes,
 * dispositions, ticket ids and unsubscribe scopes. A new fact read here must be such a field.
 */

// Materialized, and touchpoints reached LATERALly per identifier (OFFSET 0 keeps the subquery
// from being flattened): the batch's identifiers come first, then one range scan of the
// (identifier, occurred_at) index each. Left to itself the planner may instead start from the
// whole timeline or the whole event store when a type or a jsonb condition looks rare.
const MEMBERS = `members AS MATERIALIZED (
  SELECT identifier, customer_id FROM read_models.customer_identifiers WHERE customer_id = ANY($1::text[])
)`;

/** The member's touchpoints in (from, asOf], `from` optional, as `t`. */
const TOUCHPOINTS = (from: string | null, types: string) => `CROSS JOIN LATERAL (
    SELECT tp.event_id, tp.occurred_at, tp.type FROM read_models.customer_touchpoints tp
     WHERE tp.identifier = m.identifier AND tp.occurred_at <= $2${from === null ? '' : ` AND tp.occurred_at > ${from}`}
       AND tp.type ${types}
    OFFSET 0
  ) t`;

const UTC_DAY = (column: string) => `floor(extract(epoch FROM ${column}) / 86400)::int`;

/** $3 contact types, $4 how many of the latest contact days. */
export const CONTACT_DAYS_SQL = `
WITH ${MEMBERS}, days AS (
  SELECT DISTINCT m.customer_id, ${UTC_DAY('t.occurred_at')} AS day
    FROM members m
    ${TOUCHPOINTS(null, '= ANY($3::text[])')}
), ranked AS (
  SELECT customer_id, day, row_number() OVER (PARTITION BY customer_id ORDER BY day DESC) AS n FROM days
)
SELECT customer_id, array_agg(day ORDER BY day) AS days FROM ranked WHERE n <= $4 GROUP BY customer_id`;

/** $3 cap. */
export const OPT_OUTS_SQL = `
WITH ${MEMBERS}, rows AS (
  SELECT m.customer_id, t.type, t.occurred_at, e.data->>'scope' AS scope,
         row_number() OVER (PARTITION BY m.customer_id ORDER BY t.occurred_at DESC, t.event_id DESC) AS n
    FROM members m
    ${TOUCHPOINTS(null, "IN ('EmailUnsubscribed', 'EmailMarkedAsSpam')")}
    LEFT JOIN event_store.events e ON e.event_id = t.event_id
)
SELECT customer_id, type, occurred_at, scope FROM rows WHERE n <= $3`;

/**
 * Hard bounces after $3, missed calls of directions $5 after $4, outcomes matching one of the
 * LIKE patterns $7 after $6; $8 cap per customer and type.
 */
export const WINDOWED_SQL = `
WITH ${MEMBERS}, rows AS (
  SELECT m.customer_id, t.type, t.occurred_at,
         e.data->>'bounceType' AS bounce_type,
         e.data->>'direction' AS direction,
         CASE WHEN t.type = 'CallMissed' THEN e.data->>'reason' END AS reason,
         CASE WHEN t.type <> 'EmailBounced' AND t.type <> 'CallMissed'
              THEN coalesce(e.data->>'outcome', e.data->>'disposition') END AS outcome,
         row_number() OVER (PARTITION BY m.customer_id, t.type ORDER BY t.occurred_at DESC, t.event_id DESC) AS n
    FROM members m
    ${TOUCHPOINTS('least($3::timestamptz, $4::timestamptz, $6::timestamptz)', "IN ('EmailBounced', 'CallMissed', 'SupportTicketResolved', 'MeetingHeld', 'StoreVisited', 'CallEnded')")}
    JOIN event_store.events e ON e.event_id = t.event_id
   WHERE (   (t.type = 'EmailBounced' AND t.occurred_at > $3 AND e.data->>'bounceType' = 'hard')
          OR (t.type = 'CallMissed' AND t.occurred_at > $4 AND coalesce(e.data->>'direction', '') = ANY($5::text[]))
          OR (t.type IN ('SupportTicketResolved', 'MeetingHeld', 'StoreVisited', 'CallEnded')
              AND t.occurred_at > $6
              AND coalesce(e.data->>'outcome', e.data->>'disposition') ILIKE ANY($7::text[])))
)
SELECT customer_id, type, occurred_at, bounce_type, direction, reason, outcome FROM rows WHERE n <= $8`;

/**
 * Tickets open as of $2: their latest opening comes after their latest resolution (a ticket
 * opened again after it was resolved is open again, since its reopening). $3 cap.
 */
export const OPEN_TICKETS_SQL = `
WITH ${MEMBERS}, tickets AS (
  SELECT m.customer_id, t.type, t.occurred_at, e.data->>'ticketId' AS ticket_id
    FROM members m
    ${TOUCHPOINTS(null, "IN ('SupportTicketOpened', 'SupportTicketResolved')")}
    JOIN event_store.events e ON e.event_id = t.event_id
   WHERE e.data->>'ticketId' IS NOT NULL
), marked AS (
  SELECT *, max(occurred_at) FILTER (WHERE type = 'SupportTicketResolved')
              OVER (PARTITION BY customer_id, ticket_id) AS resolved_at
    FROM tickets
), open AS (
  SELECT customer_id, ticket_id, min(occurred_at) AS opened_at
    FROM marked
   WHERE type = 'SupportTicketOpened' AND occurred_at > coalesce(resolved_at, '-infinity')
   GROUP BY customer_id, ticket_id
), ranked AS (
  SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY opened_at, ticket_id) AS n FROM open
)
SELECT customer_id, ticket_id, opened_at FROM ranked WHERE n <= $3`;

/**
 * Visits (a gap over $6 minutes starts one, as in web_sessions) of types $5 in ($3, $2]:
 * recent after $4, previous up to it.
 */
export const VISITS_SQL = `
WITH ${MEMBERS}, hits AS (
  SELECT m.customer_id, t.occurred_at,
         lag(t.occurred_at) OVER (PARTITION BY m.customer_id ORDER BY t.occurred_at, t.event_id) AS previous_at
    FROM members m
    ${TOUCHPOINTS('$3', '= ANY($5::text[])')}
), visits AS (
  SELECT customer_id, occurred_at FROM hits
   WHERE previous_at IS NULL OR occurred_at - previous_at > make_interval(mins => $6::int)
)
SELECT customer_id,
       (count(*) FILTER (WHERE occurred_at > $4))::int AS recent,
       (count(*) FILTER (WHERE occurred_at <= $4))::int AS previous
  FROM visits GROUP BY customer_id`;

/**
 * Purchase days from the orders read model, which is keyed by the stream the events came with
 * (user:<id>, anon:<id>, ...): each of the customer's identifiers is turned into that key.
 */
export const PURCHASES_SQL = `
WITH keys AS (
  SELECT customer_id,
         CASE kind WHEN 'userId' THEN 'user' WHEN 'anonymousId' THEN 'anon' WHEN 'externalId' THEN 'ext'
                   ELSE kind END || substr(identifier, length(kind) + 1) AS customer_key
    FROM read_models.customer_identifiers WHERE customer_id = ANY($1::text[])
), days AS (
  SELECT DISTINCT k.customer_id, ${UTC_DAY('o.occurred_at')} AS day
    FROM keys k JOIN read_models.customer_orders o ON o.customer_key = k.customer_key
   WHERE o.occurred_at <= $2
)
SELECT customer_id, min(day) AS first_day, max(day) AS last_day, count(*)::int AS distinct_days
  FROM days GROUP BY customer_id`;
