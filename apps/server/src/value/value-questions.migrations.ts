import type { MigrationSet } from '@touchline/platform';

/**
 * Prospects and risks (docs/customer-value.md, "Prospects and risks") and what the scheduled
 * refit needs. Views over the unified profile, the churn flags and the latest CLV fit, so a set
 * of its own that runs after the profiles, cross-sell and churn sets. Forward-only.
 */
export const valueQuestionsMigrationSet: MigrationSet = {
  name: 'value_questions',
  migrations: [
    {
      version: 1,
      name: 'fit trigger, customer prospects and risks',
      sql: `
        -- Who asked for a fit: an admin (api) or the TOUCHLINE_CLV_REFIT_HOURS schedule.
        ALTER TABLE models.clv_fits ADD COLUMN trigger text NOT NULL DEFAULT 'api'
          CHECK (trigger IN ('api', 'schedule'));
        CREATE INDEX clv_fits_schedule ON models.clv_fits (fitted_at DESC) WHERE trigger = 'schedule';

        -- Promising prospects: unified customers who have not bought, or bought once, are not
        -- flagged as leaving and allow marketing, ranked by engagement across channels that fades
        -- with time since they were last seen (half-life 30 days, as of the given time):
        --   score = (ln(1 + total_events) + ln(1 + email clicks in 90 days) + 0.5 × (channels − 1))
        --           × 0.5 ^ (days since last seen / 30)
        -- A function of the as-of time so that the pages of one listing rank as of one time; the
        -- view is the function as of now.
        CREATE FUNCTION read_models.customer_prospects_at(ranked_at timestamptz)
          RETURNS TABLE (
            customer_id text, stage text, score float8, orders integer, net_revenue numeric,
            currency text, total_events integer, web_events integer, email_events integer,
            phone_events integer, other_events integer, email_clicks_90d integer,
            channels integer, first_seen_at timestamptz, last_seen_at timestamptz,
            last_contact_channel text, days_since_last_seen float8)
          LANGUAGE sql STABLE AS $$
            WITH clicks AS (
              SELECT i.customer_id, count(*)::integer AS email_clicks_90d
                FROM read_models.customer_touchpoints t
                JOIN read_models.customer_identifiers i ON i.identifier = t.identifier
               WHERE t.type = 'EmailLinkClicked'
                 AND t.occurred_at > ranked_at - interval '90 days' AND t.occurred_at <= ranked_at
               GROUP BY i.customer_id
            ), base AS (
              SELECT p.customer_id, p.orders, p.net_revenue, p.currency, p.total_events,
                     p.web_events, p.email_events, p.phone_events, p.other_events,
                     coalesce(c.email_clicks_90d, 0) AS email_clicks_90d,
                     ((p.web_events > 0)::int + (p.email_events > 0)::int
                      + (p.phone_events > 0)::int + (p.other_events > 0)::int) AS channels,
                     p.first_seen_at, p.last_seen_at, p.last_contact_channel,
                     greatest(extract(epoch FROM ranked_at - p.last_seen_at)::float8 / 86400, 0)
                       AS days_since_last_seen
                FROM read_models.customer_profiles p
                LEFT JOIN clicks c ON c.customer_id = p.customer_id
               WHERE p.orders <= 1 AND p.last_seen_at IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM read_models.churn_flags f
                                  WHERE f.customer_id = p.customer_id)
                 AND read_models.cross_sell_marketing_allowed(p.consent)
            )
            SELECT customer_id, CASE WHEN orders = 0 THEN 'lead' ELSE 'first-order' END,
                   (ln(1 + total_events) + ln(1 + email_clicks_90d) + 0.5 * (channels - 1))::float8
                     * power(0.5::float8, days_since_last_seen / 30),
                   orders, net_revenue, currency, total_events, web_events, email_events,
                   phone_events, other_events, email_clicks_90d, channels, first_seen_at,
                   last_seen_at, last_contact_channel, days_since_last_seen
              FROM base
          $$;
        CREATE VIEW read_models.customer_prospects AS
          SELECT * FROM read_models.customer_prospects_at(now());
        COMMENT ON VIEW read_models.customer_prospects IS
          'Customers with no or one order, not flagged, marketing allowed; score = engagement across channels × 0.5^(days since last seen / 30)';

        -- The most valuable customers at risk: every churn flag with the customer's value. CLV is
        -- the latest fitted fit's, summed over the customer's keys; value at risk = value × risk.
        CREATE VIEW read_models.customer_risks AS
          WITH fit AS (
            SELECT id FROM models.clv_fits WHERE status = 'fitted'
             ORDER BY fitted_at DESC, id DESC LIMIT 1
          ), clv AS (
            SELECT i.customer_id, sum(s.clv) AS clv
              FROM read_models.churn_flags f
              JOIN read_models.customer_identifiers i ON i.customer_id = f.customer_id
              JOIN models.clv_scores s
                ON s.fit_id = (SELECT id FROM fit)
               AND s.customer_key = read_models.customer_key_of_identifier(i.identifier)
             GROUP BY i.customer_id
          )
          SELECT f.customer_id, f.risk, f.reason_codes, f.since, f.as_of,
                 coalesce(p.net_revenue, 0) AS net_revenue, p.currency,
                 coalesce(p.orders, 0) AS orders, c.clv, (SELECT id FROM fit) AS fit_id,
                 c.clv * f.risk AS clv_at_risk,
                 coalesce(p.net_revenue, 0)::float8 * f.risk AS revenue_at_risk
            FROM read_models.churn_flags f
            LEFT JOIN read_models.customer_profiles p ON p.customer_id = f.customer_id
            LEFT JOIN clv c ON c.customer_id = f.customer_id;
        COMMENT ON VIEW read_models.customer_risks IS
          'Flagged customers with their value: clv_at_risk = CLV (latest fit) × risk, revenue_at_risk = net revenue × risk';
      `,
    },
  ],
};
