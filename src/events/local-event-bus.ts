/**
 * The embedded mode's EventBus: one process, so publishing is a synchronous loop over the
 * subscribers. A subscriber that throws is logged and skipped; the others still get the event.
 */
import type { Logger } from 'pino';
import type { EventBus, JobEvent } from './event-bus.js';

export interface LocalEventBusDeps {
  /** Where a throwing subscriber is reported; without one it becomes a process warning. */
  logger?: Logger;
}

export function createLocalEventBus(deps: LocalEventBusDeps = {}): EventBus {
  const handlers = new Set<(event: JobEvent) => void>();

  function report(err: unknown, event: JobEvent): void {
    if (deps.logger) {
      deps.logger.error({ err, event: event.name, jobId: event.payload.job_id }, 'event subscriber threw');
    } else {
      process.emitWarning(`event subscriber threw on ${event.name}: ${String(err)}`);
    }
  }

  return {
    publish(event: JobEvent): void {
      // A snapshot: a subscriber may unsubscribe itself (or others) while being called.
      for (const handler of [...handlers]) {
        if (!handlers.has(handler)) continue;
        try {
          handler(event);
        } catch (err) {
          report(err, event);
        }
      }
    },

    subscribe(handler: (event: JobEvent) => void): () => void {
      // A wrapper per call, so the same function subscribed twice is two subscriptions.
      const entry = (event: JobEvent): void => handler(event);
      handlers.add(entry);
      return () => {
        handlers.delete(entry);
      };
    },

    async close(): Promise<void> {
      handlers.clear();
    },
  };
}
