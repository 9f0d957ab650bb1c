/** The channels a touchpoint can come from. */
export const CHANNELS = ['web', 'email', 'phone', 'other'] as const;
export type Channel = (typeof CHANNELS)[number];
