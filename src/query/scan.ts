/**
 * The stop-gap event source: reads the log's entries in pages (LogService.entries), decodes the
 * event leaves and filters them in memory. It costs a pass over the index range for every read,
 * so it is what timelines and export use only until the search index (src/query/search.ts)
 * answers the same question from an index; that index replaces this module and nothing else.
 */
import { MAX_ENTRIES_PAGE, type LogService } from '../log/service.js';
import { isEventLeaf } from '@candor/schema/leaf';
import { compileFilter, type EventFilter } from './filter.js';
import { lazyLoggedEvent } from './fields.js';
import type { LoggedEvent } from './types.js';

/** Where a read is: the leaf index range it covers, and how far it got (for progress). */
export interface ScanProgress {
  start: number;
  end: number;
  /** Entries read so far; the range is done when start + scanned = end. */
  scanned: number;
}

/** An event source: the events matching a filter, in log order, within a fixed range of the log. */
export interface EventSource {
  /** The leaf index range [start, end) the events come from. */
  readonly start: number;
  readonly end: number;
  readonly progress: ScanProgress;
  /**
   * The matching events in batches, in log order; progress is up to date after each batch, and a
   * batch may be empty (a stretch of the log with no match), so a reader can report progress.
   */
  batches(): AsyncIterable<LoggedEvent[]>;
  [Symbol.asyncIterator](): AsyncIterator<LoggedEvent>;
}

/**
 * The events matching `filter` among the log's entries [filter.start ?? 0, min(filter.end, size)),
 * where `size` defaults to the tree size now (export passes its checkpoint's size, so every event
 * it returns can be proved against that checkpoint). Opaque (non-event) entries are skipped.
 */
export function scanEvents(service: LogService, filter: EventFilter, opts: { size?: number; pageSize?: number } = {}): EventSource {
  const size = opts.size ?? service.size;
  const start = Math.min(filter.start ?? 0, size);
  const end = Math.max(start, Math.min(filter.end ?? size, size));
  const page = Math.min(opts.pageSize ?? MAX_ENTRIES_PAGE, MAX_ENTRIES_PAGE);
  const matches = compileFilter(filter);
  const progress: ScanProgress = { start, end, scanned: 0 };
  const read = (at: number) => (at < end ? service.entries({ start: at, end: Math.min(end, at + page) }) : undefined);
  async function* batches(): AsyncGenerator<LoggedEvent[]> {
    // The next page is read while this one is decoded, filtered and consumed.
    let next = read(start);
    for (let at = start; at < end; at += page) {
      const entries = await next!;
      next = read(at + page);
      next?.catch(() => undefined); // awaited (and its error thrown) on the next round, if there is one
      const out: LoggedEvent[] = [];
      for (const { index, data } of entries) {
        if (!isEventLeaf(data)) continue;
        const e = lazyLoggedEvent(index, data);
        if (matches(e)) out.push(e);
      }
      progress.scanned = Math.min(end, at + page) - start;
      yield out;
    }
  }
  return eventSourceOf(progress, batches);
}

/** An EventSource over `batches`, whose range and progress are `progress`. */
export function eventSourceOf(progress: ScanProgress, batches: () => AsyncIterable<LoggedEvent[]>): EventSource {
  return {
    start: progress.start,
    end: progress.end,
    progress,
    batches,
    async *[Symbol.asyncIterator]() {
      for await (const b of batches()) yield* b;
    },
  };
}
