import type { MigrationSet } from '@touchline/platform';

/**
 * Cross-sell: what each customer key bought (the customer_products projection's tables), the
 * computed product affinity, and the views that join them to unified customers. A migration set
 * of its own, run after the profiles set (the views read read_models.customer_identifiers and
 * customer_profiles). Forward-only.
 */
export const crossSellMigrationSet: MigrationSet = {
  name: 'cross_sell',
  migrations: [
    {
      version: 1,
      name: 'customer products, product affinity, cross-sell candidates',
      sql: `
        CREATE SCHEMA IF NOT EXISTS read_models;

        -- The projection's inputs, kept so that orders and refunds may arrive in any order and
        -- a replayed event changes nothing. The first event of an order id wins.
        CREATE TABLE read_models.customer_product_orders (
          customer_key text NOT NULL,
          order_id     text NOT NULL,
          event_id     text NOT NULL,
          occurred_at  timestamptz NOT NULL,
          PRIMARY KEY (customer_key, order_id)
        );

        -- Units of each product in an order (lines of the same product added up).
        CREATE TABLE read_models.customer_product_lines (
          customer_key text NOT NULL,
          order_id     text NOT NULL,
          product_id   text NOT NULL,
          quantity     bigint NOT NULL,
          PRIMARY KEY (customer_key, order_id, product_id)
        );

        -- Refunds that take products back: product_id '' and quantity null for a whole order
        -- (an Order Refunded without amount and without products), else the refunded units.
        CREATE TABLE read_models.customer_product_refunds (
          event_id     text NOT NULL,
          product_id   text NOT NULL,
          customer_key text NOT NULL,
          order_id     text NOT NULL,
          occurred_at  timestamptz NOT NULL,
          quantity     bigint,
          PRIMARY KEY (event_id, product_id)
        );
        CREATE INDEX customer_product_refunds_order
          ON read_models.customer_product_refunds (customer_key, order_id);

        CREATE TABLE read_models.customer_products (
          customer_key    text NOT NULL,
          product_id      text NOT NULL,
          orders          integer NOT NULL,
          first_bought_at timestamptz NOT NULL,
          last_bought_at  timestamptz NOT NULL,
          PRIMARY KEY (customer_key, product_id)
        );
        CREATE INDEX customer_products_product ON read_models.customer_products (product_id);
        COMMENT ON TABLE read_models.customer_products IS
          'Products each customer key (stream id) bought and kept: orders minus whole-order and product refunds';

        -- Written by POST /v1/admin/cross-sell/compute (not by the projector): the latest
        -- computation replaces the previous one in one transaction.
        CREATE TABLE read_models.product_affinity (
          antecedent           text NOT NULL,
          consequent           text NOT NULL,
          customers_both       integer NOT NULL,
          customers_antecedent integer NOT NULL,
          customers_consequent integer NOT NULL,
          support              double precision NOT NULL,
          confidence           double precision NOT NULL,
          lift                 double precision NOT NULL,
          computed_at          timestamptz NOT NULL,
          run_id               text NOT NULL,
          PRIMARY KEY (antecedent, consequent)
        );
        CREATE INDEX product_affinity_consequent ON read_models.product_affinity (consequent);
        COMMENT ON TABLE read_models.product_affinity IS
          'Customers who bought antecedent also bought consequent: support P(A and B), confidence P(B|A), lift P(B|A)/P(B)';

        CREATE TABLE read_models.product_affinity_runs (
          id                 text PRIMARY KEY,
          computed_at        timestamptz NOT NULL,
          config             jsonb NOT NULL,
          customers          integer NOT NULL,
          excluded_customers integer NOT NULL,
          products           integer NOT NULL,
          pairs              integer NOT NULL,
          rules              integer NOT NULL,
          truncated          boolean NOT NULL,
          duration_ms        integer NOT NULL,
          requested_by       text
        );

        -- Customer keys are stream ids (user:ada); identity resolution names identifiers
        -- (userId:ada). Orders arrive on user, anon, email or phone streams.
        CREATE FUNCTION read_models.identifier_of_customer_key(customer_key text) RETURNS text
          LANGUAGE sql IMMUTABLE STRICT AS $$
            SELECT CASE split_part(customer_key, ':', 1)
                     WHEN 'user' THEN 'userId:' || substr(customer_key, 6)
                     WHEN 'anon' THEN 'anonymousId:' || substr(customer_key, 6)
                     WHEN 'email' THEN customer_key
                     WHEN 'phone' THEN customer_key
                   END
          $$;
        CREATE FUNCTION read_models.customer_key_of_identifier(identifier text) RETURNS text
          LANGUAGE sql IMMUTABLE STRICT AS $$
            SELECT CASE split_part(identifier, ':', 1)
                     WHEN 'userId' THEN 'user:' || substr(identifier, 8)
                     WHEN 'anonymousId' THEN 'anon:' || substr(identifier, 13)
                     WHEN 'email' THEN identifier
                     WHEN 'phone' THEN identifier
                   END
          $$;

        -- THE OPT-OUT HOOK. Customers for whom this is false get no cross-sell candidates. Until
        -- the privacy work defines consent purposes, it reads the purpose "email_marketing" of
        -- read_models.customer_profiles.consent ({"<purpose>": {"value": false, ...}}); a
        -- customer with no consent recorded is allowed. Replace it (CREATE OR REPLACE in a later
        -- migration of this set) when the purpose names are settled.
        CREATE FUNCTION read_models.cross_sell_marketing_allowed(consent jsonb) RETURNS boolean
          LANGUAGE sql IMMUTABLE AS $$
            SELECT (consent -> 'email_marketing' ->> 'value') IS DISTINCT FROM 'false'
          $$;

        -- Products per unified customer: the union over all the customer's identifiers.
        CREATE VIEW read_models.unified_customer_products AS
          SELECT i.customer_id, p.product_id, sum(p.orders)::integer AS orders,
                 min(p.first_bought_at) AS first_bought_at, max(p.last_bought_at) AS last_bought_at
            FROM read_models.customer_identifiers i
            JOIN read_models.customer_products p
              ON p.customer_key = read_models.customer_key_of_identifier(i.identifier)
           GROUP BY i.customer_id, p.product_id;

        -- Per unified customer, the products they have not bought, each with the rule of highest
        -- lift (above 1) among the products they did buy; rank 1 is the best candidate.
        CREATE VIEW read_models.cross_sell_candidates AS
          SELECT best.customer_id, best.product_id, best.because_bought, best.lift,
                 best.confidence, best.support, best.customers_both, best.computed_at,
                 row_number() OVER (PARTITION BY best.customer_id
                                    ORDER BY best.lift DESC, best.confidence DESC,
                                             best.product_id COLLATE "C") AS rank
            FROM (
              SELECT DISTINCT ON (b.customer_id, a.consequent)
                     b.customer_id, a.consequent AS product_id, a.antecedent AS because_bought,
                     a.lift, a.confidence, a.support, a.customers_both, a.computed_at
                FROM read_models.unified_customer_products b
                JOIN read_models.product_affinity a ON a.antecedent = b.product_id
               WHERE a.lift > 1
                 AND NOT EXISTS (SELECT 1 FROM read_models.unified_customer_products o
                                  WHERE o.customer_id = b.customer_id
                                    AND o.product_id = a.consequent)
               ORDER BY b.customer_id, a.consequent, a.lift DESC, a.confidence DESC,
                        a.antecedent COLLATE "C"
            ) best
            LEFT JOIN read_models.customer_profiles profile ON profile.customer_id = best.customer_id
           WHERE read_models.cross_sell_marketing_allowed(profile.consent);
        COMMENT ON VIEW read_models.cross_sell_candidates IS
          'Per customer: products not bought, ranked by the highest lift over what they bought; opted-out customers excluded';
      `,
    },
  ],
};
