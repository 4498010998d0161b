/**
 * Where a read's events come from. A filter that names an indexed exact value (a review, a
 * session, an actor, one tenant, one exact type) is answered from the search index
 * (SearchService.matching), which reads only the postings of that value; any other filter scans
 * the range (scan.ts). Either way every event is checked against the whole filter
 * (filter.ts compileFilter), so the index only narrows what is read, never what matches.
 */
import type { LogService } from '../log/service.js';
import { compileFilter, type EventFilter } from './filter.js';
import { eventSourceOf, scanEvents, type EventSource, type ScanProgress } from './scan.js';
import type { SearchService } from './search.js';
import type { TermField } from './terms.js';
import type { LoggedEvent } from './types.js';

/** The index terms every event matching `filter` has, or undefined when the filter names none. */
export function indexTerms(filter: EventFilter): Partial<Record<TermField, string>> | undefined {
  const terms: Partial<Record<TermField, string>> = {};
  if (filter.review !== undefined) terms.review = filter.review;
  if (filter.session !== undefined) terms.session = filter.session;
  if (filter.actor !== undefined) terms.actor = filter.actor;
  if (filter.tenant?.length === 1) terms.tenant = filter.tenant[0]!;
  if (filter.type?.length === 1 && !filter.type[0]!.endsWith('*')) terms.type = filter.type[0]!;
  return Object.keys(terms).length > 0 ? terms : undefined;
}

/**
 * The events matching `filter` among leaves [filter.start ?? 0, min(filter.end, size)), in log
 * order; `size` defaults to the tree size now.
 */
export function eventSource(service: LogService, search: SearchService | undefined, filter: EventFilter, size = service.size): EventSource {
  const terms = search ? indexTerms(filter) : undefined;
  if (!search || !terms) return scanEvents(service, filter, { size });
  const start = Math.min(filter.start ?? 0, size);
  const end = Math.max(start, Math.min(filter.end ?? size, size));
  const matches = compileFilter(filter);
  const progress: ScanProgress = { start, end, scanned: 0 };
  async function* batches(): AsyncGenerator<LoggedEvent[]> {
    for await (const page of search!.matching(terms!, start, end)) {
      progress.scanned = Math.min(end, page.position + 1) - start;
      yield page.events.filter(matches);
    }
    progress.scanned = end - start;
  }
  return eventSourceOf(progress, batches);
}
