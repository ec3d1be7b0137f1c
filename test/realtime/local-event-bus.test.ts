import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/events/event-bus.js';
import { createLocalEventBus } from '../../src/events/local-event-bus.js';
import { describeEventBusContract } from '../contracts/event-bus.contract.js';

const silent = pino({ level: 'silent' });

describeEventBusContract('local (in-process)', async () => {
  const bus = createLocalEventBus({ logger: silent });
  // One process: its "peer" is the same bus.
  return { bus, peer: async () => bus, cleanup: () => bus.close() };
});

const event = (percentage: number): JobEvent => ({
  name: 'job_progress',
  payload: { job_id: 'j1', progress: { percentage, phase: 'downloading', speed: null, eta: null } },
});

describe('createLocalEventBus', () => {
  it('delivers synchronously: every subscriber has run when publish returns', () => {
    const bus = createLocalEventBus({ logger: silent });
    const calls: string[] = [];
    bus.subscribe(() => calls.push('a'));
    bus.subscribe(() => calls.push('b'));
    bus.publish(event(1));
    expect(calls).toEqual(['a', 'b']);
  });

  it('logs a throwing subscriber with the event and still calls the ones after it', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const bus = createLocalEventBus({ logger: pino({ level: 'error' }, sink) });
    const after: JobEvent[] = [];
    bus.subscribe(() => {
      throw new Error('boom');
    });
    bus.subscribe((e) => after.push(e));
    bus.publish(event(3));
    expect(after).toEqual([event(3)]);
    expect(lines).toHaveLength(1);
    const logged = JSON.parse(lines[0]!) as { msg: string; event: string; jobId: string; err: { message: string } };
    expect(logged).toMatchObject({ msg: 'event subscriber threw', event: 'job_progress', jobId: 'j1' });
    expect(logged.err.message).toBe('boom');
  });

  it('lets a subscriber unsubscribe another during a publish without skipping the rest', () => {
    const bus = createLocalEventBus({ logger: silent });
    const calls: string[] = [];
    let stopB = (): void => {};
    bus.subscribe(() => {
      calls.push('a');
      stopB();
    });
    stopB = bus.subscribe(() => calls.push('b'));
    bus.subscribe(() => calls.push('c'));
    bus.publish(event(1));
    bus.publish(event(2));
    expect(calls).toEqual(['a', 'c', 'a', 'c']);
  });

  it('counts the same function subscribed twice as two subscriptions', () => {
    const bus = createLocalEventBus({ logger: silent });
    const seen: number[] = [];
    const handler = (e: JobEvent) => seen.push(e.name === 'job_progress' ? e.payload.progress.percentage : -1);
    const stopFirst = bus.subscribe(handler);
    bus.subscribe(handler);
    bus.publish(event(1));
    stopFirst();
    bus.publish(event(2));
    expect(seen).toEqual([1, 1, 2]);
  });

  it('delivers nothing to subscribers once closed', async () => {
    const bus = createLocalEventBus({ logger: silent });
    const seen: JobEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    await bus.close();
    bus.publish(event(1));
    expect(seen).toEqual([]);
  });
});
