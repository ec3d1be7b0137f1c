import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { io as connect } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { createSocketGateway } from '../../src/realtime/socket-gateway.js';

describe('socket gateway on a Fastify server', () => {
  it('shares the port with the routes, and app.close() ends with clients connected when the gateway closes in preClose', async () => {
    const app = Fastify();
    app.get('/health', async () => ({ status: 'ok' }));
    const gateway = createSocketGateway({
      httpServer: app.server,
      events: null,
      replay: async () => null,
      cancelJob: async () => false,
      corsOrigins: '*',
      apiKeys: [],
      logger: pino({ level: 'silent' }),
    });
    // preClose, not onClose: Fastify waits for open connections (a long poll, a WebSocket)
    // before its onClose hooks run, so closing the gateway there would never be reached.
    app.addHook('preClose', async () => gateway.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const sockets = (['websocket', 'polling'] as const).map((transport) =>
      connect(url, { transports: [transport], reconnection: false, forceNew: true }),
    );
    try {
      await Promise.all(sockets.map((s) => new Promise((resolve) => s.once('connected', resolve))));
      const res = await fetch(`${url}/health`);
      expect(await res.json()).toEqual({ status: 'ok' });

      const started = Date.now();
      await app.close();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(app.server.listening).toBe(false);
    } finally {
      for (const s of sockets) s.disconnect();
      await app.close();
    }
  });
});
