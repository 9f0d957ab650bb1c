// Types of contracts-core.cjs, for the unit tests of libs/contracts.

export interface Problem {
  readonly file: string;
  readonly message: string;
}

export interface ContractEntry {
  readonly kind: 'envelope' | 'event';
  readonly type: string;
  readonly version: number;
  readonly channel: string | null;
  readonly file: string;
  readonly doc: string;
  readonly piiFields: string[];
  readonly schema: Record<string, unknown>;
}

export const GENERATED_DIR: string;
export const GENERATED_SCHEMAS: string;
export const GENERATED_TYPES: string;
/** docs/events.md: the generated reference of every event. */
export const GENERATED_DOCS: string;
/** Custom value rules a schema may put on a type, with the Avro types each applies to. */
export const VALUE_RULES: Readonly<Record<string, readonly string[]>>;

export function loadContracts(root: string): { entries: ContractEntry[]; problems: Problem[] };
/** null when `reader` can read data written with `writer`, otherwise the reason. */
export function incompatibility(reader: unknown, writer: unknown): string | null;
export function checkVersionChains(entries: readonly ContractEntry[]): Problem[];
export function checkHistory(root: string, entries: readonly ContractEntry[]): Problem[];
export function renderGenerated(entries: readonly ContractEntry[]): Record<string, string>;
export function renderEventsReference(entries: readonly ContractEntry[]): string;
export function generate(root: string): { written: string[]; problems: Problem[] };
export function checkDrift(root: string, entries: readonly ContractEntry[]): Problem[];
export function checkContracts(root: string, options?: { history?: boolean }): Problem[];
