/** The export filter's keys, apart from filter.ts so that CLI option tables load without the schema. */
export const FILTER_KEYS = ['start', 'end', 'tenant', 'type', 'from', 'to', 'review', 'session', 'actor', 'producer'] as const;
