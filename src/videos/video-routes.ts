import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses, UrlField } from '../http/schemas.js';
import { assertPublicHost, parseMediaUrl, type UrlPolicy } from './media-url.js';
import type { MetadataService } from './metadata-service.js';

const FormatSchema = Type.Object({
  format_id: Type.String(),
  ext: Type.String(),
  resolution: Type.String(),
  height: Type.Integer(),
  note: Type.Union([Type.String(), Type.Null()]),
  filesize: Type.Union([Type.Number(), Type.Null()]),
  vcodec: Type.String(),
  acodec: Type.String(),
  quality_label: Type.String(),
  type: Type.Union([Type.Literal('video+audio'), Type.Literal('video_only'), Type.Literal('audio_only')]),
});

const MetaSchema = Type.Object(
  {
    id: Type.Union([Type.String(), Type.Null()]),
    title: Type.Union([Type.String(), Type.Null()]),
    uploader: Type.Union([Type.String(), Type.Null()]),
    duration: Type.Union([Type.Number(), Type.Null()]),
    thumbnail: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: true },
);

export interface VideoRouteDeps {
  metadata: Pick<MetadataService, 'resolve'>;
  policy: UrlPolicy;
}

export function registerVideoRoutes(app: FastifyInstance, deps: VideoRouteDeps): void {
  app.post(
    '/api/v1/videos/resolutions',
    {
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
      const body = request.body as { url: unknown };
      const url = parseMediaUrl(body.url, deps.policy);
      await assertPublicHost(url, deps.policy);
      const { meta, formats } = await deps.metadata.resolve(url);
      return { meta, formats };
    },
  );
}
