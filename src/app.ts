/**
 * buildApp(deps): the HTTP API, docs and the Socket.IO gateway on one server. It never listens;
 * `main` does, and tests use `inject()` or listen on port 0 themselves.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { registerDownloadRoutes } from './downloads/download-routes.js';
import type { DownloadService } from './downloads/download-service.js';
import type { EventBus } from './events/event-bus.js';
import { registerFileRoutes } from './files/file-routes.js';
import { registerApiKeyAuth } from './http/api-keys.js';
import { registerErrorHandling } from './http/error-handler.js';
import { ErrorBodySchema } from './http/schemas.js';
import { HTTP_SERVER_LIMITS, registerSecurity } from './http/security.js';
import { trustProxyOption } from './ratelimit/client-ip.js';
import { registerRateLimitHooks } from './ratelimit/rate-limit-hooks.js';
import type { RateLimitService } from './ratelimit/rate-limit-service.js';
import { createSocketGateway, type SocketGateway } from './realtime/socket-gateway.js';
import type { ObjectStorage } from './storage/object-storage.js';
import type { TokenStore } from './store/token-store.js';
import { registerDocs } from './system/docs.js';
import { registerHealthRoutes } from './system/health-routes.js';
import type { HealthService } from './system/health-service.js';
import type { UrlPolicy } from './videos/media-url.js';
import type { MetadataService } from './videos/metadata-service.js';
import { registerVideoRoutes } from './videos/video-routes.js';

export interface AppDeps {
  config: Pick<Config, 'corsOrigins' | 'trustProxy' | 'apiKeys' | 'socketioEnabled' | 'signedUrlTtlSeconds' | 'fileTtlMinutes'>;
  version: string;
  logger: Logger;
  downloads: DownloadService;
  metadata: Pick<MetadataService, 'resolve'>;
  policy: UrlPolicy;
  tokens: Pick<TokenStore, 'resolve'>;
  storageFor(kind: 'local' | 'gcs'): ObjectStorage | null;
  health: HealthService;
  rateLimits: RateLimitService;
  /**
   * The bus the gateway listens to, or null where another mechanism (the Socket.IO Redis adapter)
   * delivers events to this process's sockets.
   */
  gatewayEvents: EventBus | null;
  /** A Socket.IO adapter constructor, for distributed mode. */
  socketAdapter?: Parameters<typeof createSocketGateway>[0]['adapter'];
}

export interface BuiltApp {
  app: FastifyInstance;
  gateway: SocketGateway | null;
}

export async function buildApp(deps: AppDeps): Promise<BuiltApp> {
  const app = Fastify({
    // Errors are logged by the error handler (with the request id); see registerErrorHandling.
    logger: false,
    trustProxy: trustProxyOption(deps.config.trustProxy),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ...HTTP_SERVER_LIMITS,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });

  registerErrorHandling(app, deps.logger);
  app.addSchema(ErrorBodySchema);
  registerSecurity(app, { corsOrigins: deps.config.corsOrigins });
  registerApiKeyAuth(app, deps.config.apiKeys);
  registerRateLimitHooks(app, deps.rateLimits);
  await registerDocs(app, deps.version);

  registerHealthRoutes(app, { health: deps.health });
  registerVideoRoutes(app, { metadata: deps.metadata, policy: deps.policy });
  registerDownloadRoutes(app, { downloads: deps.downloads });
  registerFileRoutes(app, {
    tokens: deps.tokens,
    storageFor: deps.storageFor,
    signedUrlTtlSeconds: deps.config.signedUrlTtlSeconds,
    fileTtlMinutes: deps.config.fileTtlMinutes,
  });

  let gateway: SocketGateway | null = null;
  if (deps.config.socketioEnabled) {
    gateway = createSocketGateway({
      httpServer: app.server,
      events: deps.gatewayEvents,
      replay: (jobId) => deps.downloads.replay(jobId),
      cancelJob: (jobId) => deps.downloads.remove(jobId),
      corsOrigins: deps.config.corsOrigins,
      apiKeys: deps.config.apiKeys,
      logger: deps.logger.child({ component: 'socketio' }),
      adapter: deps.socketAdapter,
    });
    // Before the server waits for its connections: open sockets would otherwise keep it from closing.
    app.addHook('preClose', async () => gateway?.close());
  }
  return { app, gateway };
}
