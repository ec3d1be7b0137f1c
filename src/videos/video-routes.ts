import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, Nullable, UrlField } from '../http/schemas.js';
import { assertPublicHost, parseMediaUrl, type MediaUrl, type UrlPolicy } from './media-url.js';
import type { MetadataService } from './metadata-service.js';

const FormatSchema = Type.Object({
  format_id: Type.String(),
  ext: Type.String(),
  resolution: Type.String(),
  height: Type.Integer(),
  note: Nullable('string'),
  filesize: Nullable('number'),
  vcodec: Type.String(),
  acodec: Type.String(),
  quality_label: Type.String(),
  type: Type.Unsafe<string>({ type: 'string', enum: ['video+audio', 'video_only', 'audio_only'] }),
});

const MetaSchema = Type.Object(
  {
    id: Nullable('string'),
    title: Nullable('string'),
    uploader: Nullable('string'),
    duration: Nullable('number'),
    thumbnail: Nullable('string'),
  },
  { additionalProperties: true },
);

export interface VideoRouteDeps {
  metadata: Pick<MetadataService, 'resolve'>;
  policy: UrlPolicy;
}

export function registerVideoRoutes(app: FastifyInstance, deps: VideoRouteDeps): void {
  const parsed = new WeakMap<object, MediaUrl>();

  app.post(
    '/api/v1/videos/resolutions',
    {
      // The URL policy runs before validation and the rate-limit hooks, so a refused URL spends no
      // quota (SPEC §2).
      preValidation: async (request) => {
        const body = request.body as { url?: unknown } | null | undefined;
        const url = parseMediaUrl(body && typeof body === 'object' ? body.url : undefined, deps.policy);
        await assertPublicHost(url, deps.policy);
        parsed.set(request, url);
      },
      schema: {
        tags: ['videos'],
        summary: 'List the formats of a video',
        body: Type.Object({ url: UrlField }),
        response: {
          200: Type.Object({ meta: MetaSchema, formats: Type.Array(FormatSchema) }),
          ...errorResponses(400, 413, 415, 429, 502, 503),
        },
      },
    },
    async (request) => {
      const { meta, formats } = await deps.metadata.resolve(parsed.get(request)!);
      return { meta, formats };
    },
  );
}
