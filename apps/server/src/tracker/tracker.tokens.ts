/** The loaded tracker.js bundle (or null when it was not built). */
export const TRACKER_BUNDLE = Symbol('TRACKER_BUNDLE');
