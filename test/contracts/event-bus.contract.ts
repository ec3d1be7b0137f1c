/**
 * The EventBus contract (SPEC §1, §4): every adapter delivers each published job event, intact and
 * in order, to every subscriber in reach: its own and those of a peer bus on the same medium
 * (another process in distributed mode; the same bus in embedded mode).
 *
 * The factory must resolve only when its bus is ready to receive, and `peer()` likewise. Each
 * factory call must be isolated from the others (e.g. a fresh Redis prefix). `cleanup()` closes
 * every bus it handed out, also ones a test closed already.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventBus, JobEvent } from '../../src/events/event-bus.js';

export interface EventBusFixture {
  bus: EventBus;
  /** Another bus on the same medium, as a second process would hold it. */
  peer(): Promise<EventBus>;
  cleanup(): Promise<void>;
}

export type EventBusFactory = () => Promise<EventBusFixture>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a late (e.g. duplicated) delivery gets to show up before we say there was none. */
const SETTLE_MS = 100;

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function record(bus: EventBus) {
  const events: JobEvent[] = [];
  const stop = bus.subscribe((event) => events.push(event));
  const of = (jobId: string) => events.filter((e) => e.payload.job_id === jobId);
  return { events, stop, of };
}

const newJobId = () => `job-${randomUUID()}`;

function progress(jobId: string, percentage: number): JobEvent {
  return {
    name: 'job_progress',
    payload: { job_id: jobId, progress: { percentage, phase: 'downloading', speed: '2.0 MB/s', eta: 7 } },
  };
}

function everyKind(jobId: string): JobEvent[] {
  return [
    {
      name: 'job_progress',
      payload: { job_id: jobId, progress: { percentage: 0, phase: 'initializing', speed: null, eta: null } },
    },
    progress(jobId, 42),
    {
      name: 'job_completed',
      payload: {
        job_id: jobId,
        status: 'completed',
        download_url: '/api/v1/downloads/file/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd',
        expire_at: '2026-12-04T12:10:00.000Z',
      },
    },
    {
      name: 'job_failed',
      payload: {
        job_id: jobId,
        status: 'failed',
        error: 'Video Not Available: This video cannot be downloaded. It may be private, deleted, or restricted.',
        error_category: 'video_unavailable',
      },
    },
    { name: 'job_cancelled', payload: { job_id: jobId, status: 'cancelled', message: 'Vidéo annulée 日本' } },
  ];
}

export function describeEventBusContract(name: string, factory: EventBusFactory): void {
  describe(`EventBus contract: ${name}`, () => {
    let fixture: EventBusFixture;

    beforeEach(async () => {
      fixture = await factory();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('delivers every kind of job event to a subscriber, payload intact and in order', async () => {
      const seen = record(fixture.bus);
      const jobId = newJobId();
      const sent = everyKind(jobId);
      for (const event of sent) fixture.bus.publish(event);
      await waitFor(() => seen.of(jobId).length >= sent.length, 'all event kinds');
      await sleep(SETTLE_MS);
      expect(seen.of(jobId)).toEqual(sent);
    });

    it('delivers events of every job, not only one', async () => {
      const seen = record(fixture.bus);
      const [a, b] = [newJobId(), newJobId()];
      fixture.bus.publish(progress(a, 1));
      fixture.bus.publish(progress(b, 2));
      await waitFor(() => seen.of(a).length === 1 && seen.of(b).length === 1, 'both jobs');
      expect(seen.of(b)[0]).toEqual(progress(b, 2));
    });

    it('delivers across peers exactly once: a peer’s events here and this bus’s events there', async () => {
      const peer = await fixture.peer();
      const here = record(fixture.bus);
      const there = record(peer);
      const [fromPeer, fromBus] = [newJobId(), newJobId()];
      peer.publish(progress(fromPeer, 10));
      fixture.bus.publish(progress(fromBus, 20));
      await waitFor(
        () => [here, there].every((r) => r.of(fromPeer).length >= 1 && r.of(fromBus).length >= 1),
        'events on both sides',
      );
      await sleep(SETTLE_MS);
      for (const r of [here, there]) {
        expect(r.of(fromPeer)).toEqual([progress(fromPeer, 10)]);
        expect(r.of(fromBus)).toEqual([progress(fromBus, 20)]);
      }
    });

    it('fans one event out to every subscriber', async () => {
      const peer = await fixture.peer();
      const subscribers = [record(fixture.bus), record(fixture.bus), record(fixture.bus), record(peer)];
      const jobId = newJobId();
      fixture.bus.publish(progress(jobId, 5));
      await waitFor(() => subscribers.every((s) => s.of(jobId).length >= 1), 'every subscriber');
      await sleep(SETTLE_MS);
      for (const s of subscribers) expect(s.of(jobId)).toEqual([progress(jobId, 5)]);
    });

    it("keeps one publisher's order over many events", async () => {
      const peer = await fixture.peer();
      const here = record(fixture.bus);
      const jobId = newJobId();
      const count = 200;
      for (let i = 0; i < count; i++) peer.publish(progress(jobId, i % 101));
      await waitFor(() => here.of(jobId).length >= count, `${count} events`);
      const percentages = here.of(jobId).map((e) => (e.name === 'job_progress' ? e.payload.progress.percentage : -1));
      expect(percentages).toEqual(Array.from({ length: count }, (_, i) => i % 101));
    });

    it('stops delivering to an unsubscribed handler while the others keep receiving', async () => {
      const peer = await fixture.peer();
      const gone = record(fixture.bus);
      const stays = record(fixture.bus);
      const jobId = newJobId();
      fixture.bus.publish(progress(jobId, 1));
      await waitFor(() => gone.of(jobId).length === 1 && stays.of(jobId).length === 1, 'first event');

      gone.stop();
      gone.stop(); // a second call is harmless
      fixture.bus.publish(progress(jobId, 2));
      peer.publish(progress(jobId, 3));
      await waitFor(() => stays.of(jobId).length === 3, 'later events');
      await sleep(SETTLE_MS);
      expect(gone.of(jobId)).toEqual([progress(jobId, 1)]);
    });

    it('keeps delivering to the others when a subscriber throws', async () => {
      const thrower = fixture.bus.subscribe(() => {
        throw new Error('subscriber failure (expected by this test)');
      });
      const stays = record(fixture.bus);
      const jobId = newJobId();
      expect(() => fixture.bus.publish(progress(jobId, 1))).not.toThrow();
      expect(() => fixture.bus.publish(progress(jobId, 2))).not.toThrow();
      await waitFor(() => stays.of(jobId).length === 2, 'both events despite the thrower');
      expect(stays.of(jobId)).toEqual([progress(jobId, 1), progress(jobId, 2)]);
      thrower();
    });

    it('accepts a publish with no subscriber, and a later subscriber gets later events', async () => {
      const jobId = newJobId();
      expect(() => fixture.bus.publish(progress(jobId, 1))).not.toThrow();
      const late = record(fixture.bus);
      fixture.bus.publish(progress(jobId, 2));
      await waitFor(() => late.of(jobId).some((e) => e.name === 'job_progress' && e.payload.progress.percentage === 2), 'later event');
    });

    it('does not deliver to a bus of another deployment', async () => {
      const other = await factory();
      try {
        const foreign = record(other.bus);
        const own = record(fixture.bus);
        const jobId = newJobId();
        fixture.bus.publish(progress(jobId, 9));
        await waitFor(() => own.of(jobId).length === 1, 'own delivery');
        await sleep(SETTLE_MS);
        expect(foreign.of(jobId)).toEqual([]);
      } finally {
        await other.cleanup();
      }
    });

    it('closes, and closing twice is harmless', async () => {
      await fixture.bus.close();
      await expect(fixture.bus.close()).resolves.toBeUndefined();
    });
  });
}
