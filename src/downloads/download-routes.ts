import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { errorResponses, FormatIdField, Nullable, UrlField } from '../http/schemas.js';
import { clientIp } from '../ratelimit/client-ip.js';
import type { DownloadService } from './download-service.js';

const NullableString = Nullable('string');
const NullableInteger = Nullable('integer');

const ProgressSchema = Type.Object({
  percentage: Type.Integer({ minimum: 0, maximum: 100 }),
  phase: Type.String(),
  speed: NullableString,
  eta: NullableInteger,
});

const JobStatusSchema = Type.Object({
  job_id: Type.String(),
  status: Type.Unsafe<string>({ type: 'string', enum: ['pending', 'processing', 'completed', 'failed'] }),
  progress: ProgressSchema,
  download_url: NullableString,
  expire_at: NullableString,
  time_remaining: NullableInteger,
  error: NullableString,
  error_category: NullableString,
});

const JobIdParams = Type.Object({ job_id: Type.String({ minLength: 1 }) });

export function registerDownloadRoutes(app: FastifyInstance, deps: { downloads: DownloadService }): void {
  const { downloads } = deps;

  app.post(
    '/api/v1/downloads/',
    {
      schema: {
        tags: ['downloads'],
        summary: 'Start a download job',
        body: Type.Object({ url: UrlField, format_id: FormatIdField }),
        response: {
          202: Type.Object({ job_id: Type.String(), status: Type.Literal('pending'), message: Type.String() }),
          ...errorResponses(400, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { url: unknown; format_id: unknown };
      const created = await downloads.create({ url: body.url, formatId: body.format_id, ip: clientIp(request) });
      return reply.code(202).headers(created.headers).send(created.body);
    },
  );

  app.get(
    '/api/v1/jobs/:job_id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Get the status of a job',
        params: JobIdParams,
        response: { 200: JobStatusSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => downloads.status((request.params as { job_id: string }).job_id),
  );

  app.delete(
    '/api/v1/jobs/:job_id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job and delete it with its file',
        params: JobIdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const removed = await downloads.remove((request.params as { job_id: string }).job_id);
      if (!removed) throw new AppError('job_not_found');
      return reply.code(204).send();
    },
  );
}
