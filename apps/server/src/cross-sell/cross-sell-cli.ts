/**
 * `touchline cross-sell ...`: compute product affinity, and read it (affinity of one product,
 * the best candidates, one customer's products). Only talks to the API.
 */

export type ApiCall = (method: string, route: string, body?: unknown) => Promise<unknown>;
type Render = (rows: readonly Record<string, unknown>[], columns: readonly string[]) => string;

export class CrossSellCliError extends Error {}

/** The options these commands add to the CLI's parser. */
export const CROSS_SELL_CLI_OPTIONS = {
  'min-support': { type: 'string' },
  'max-products-per-customer': { type: 'string' },
  'max-pairs': { type: 'string' },
  product: { type: 'string' },
  cursor: { type: 'string' },
} as const;

export const CROSS_SELL_HELP = `  cross-sell compute [--min-customers 2] [--min-support 0] [--max-products-per-customer 1000]
      [--max-pairs 100000]                    product affinity from co-purchases (admin)
  cross-sell affinity --product ID [--limit N] the products bought with one product, by lift
  cross-sell candidates [--product ID] [--limit N] [--cursor C]
                                              the best candidates for a cross-sell
  cross-sell customer <customer-id> [--limit N] one customer's products, with the rule for each`;

export interface CrossSellCliValues {
  readonly json: boolean;
  readonly limit?: string | undefined;
  readonly 'min-customers'?: string | undefined;
  readonly 'min-support'?: string | undefined;
  readonly 'max-products-per-customer'?: string | undefined;
  readonly 'max-pairs'?: string | undefined;
  readonly product?: string | undefined;
  readonly cursor?: string | undefined;
}

/** A numeric option as a number; anything else is sent as is, so the server names the field. */
function numberOption(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  return /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(value) ? Number(value) : value;
}

const query = (params: Record<string, string | undefined>) => {
  const defined = Object.entries(params).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  return defined.length === 0 ? '' : `?${new URLSearchParams(defined).toString()}`;
};

export async function crossSellCommand(
  action: string | undefined,
  target: string | undefined,
  values: CrossSellCliValues,
  call: ApiCall,
  render: Render,
): Promise<string> {
  const show = (answer: unknown, text: () => string) =>
    values.json ? JSON.stringify(answer, null, 2) : text();
  switch (action ?? '') {
    case 'compute': {
      const answer = (await call('POST', '/v1/admin/cross-sell/compute', {
        minCustomers: numberOption(values['min-customers']),
        minSupport: numberOption(values['min-support']),
        maxProductsPerCustomer: numberOption(values['max-products-per-customer']),
        maxPairs: numberOption(values['max-pairs']),
      })) as Record<string, unknown>;
      return show(
        answer,
        () =>
          `Computed ${String(answer['runId'])}: ${String(answer['rules'])} rules from ${String(answer['pairs'])} pairs of ${String(answer['products'])} products over ${String(answer['customers'])} customers (${String(answer['excludedCustomers'])} left out for too many products)${answer['truncated'] === true ? '; truncated at --max-pairs' : ''}.`,
      );
    }
    case 'affinity': {
      if (!values.product) throw new CrossSellCliError(`Missing --product.\n\n${CROSS_SELL_HELP}`);
      const answer = (await call(
        'GET',
        `/v1/cross-sell/affinity${query({ product: values.product, limit: values.limit })}`,
      )) as { items: Record<string, unknown>[] };
      return show(answer, () =>
        render(answer.items, [
          'consequent',
          'lift',
          'confidence',
          'support',
          'customersBoth',
          'customersConsequent',
        ]),
      );
    }
    case 'candidates': {
      const answer = (await call(
        'GET',
        `/v1/cross-sell/candidates${query({ product: values.product, limit: values.limit, cursor: values.cursor })}`,
      )) as { items: Record<string, unknown>[]; nextCursor: string | null };
      return show(
        answer,
        () =>
          `${render(
            answer.items.map((item) => ({
              ...item,
              because: (item['because'] as { bought: string }).bought,
            })),
            ['customerId', 'productId', 'lift', 'confidence', 'because'],
          )}${answer.nextCursor ? `\nmore: --cursor ${answer.nextCursor}` : ''}`,
      );
    }
    case 'customer': {
      if (!target) throw new CrossSellCliError(`Missing the customer id.\n\n${CROSS_SELL_HELP}`);
      const answer = (await call(
        'GET',
        `/v1/customers/${encodeURIComponent(target)}/cross-sell${query({ limit: values.limit })}`,
      )) as {
        customerId: string;
        excluded: string | null;
        bought: string[];
        items: { rank: number; productId: string; explanation: string }[];
      };
      return show(answer, () =>
        [
          `Customer ${answer.customerId} bought: ${answer.bought.join(', ') || '(nothing)'}`,
          ...(answer.excluded ? [`Excluded: ${answer.excluded}`] : []),
          ...answer.items.map((i) => `${i.rank}. ${i.productId}: ${i.explanation}`),
        ].join('\n'),
      );
    }
    default:
      throw new CrossSellCliError(
        `Unknown command "cross-sell ${action ?? ''}".\n\n${CROSS_SELL_HELP}`,
      );
  }
}
