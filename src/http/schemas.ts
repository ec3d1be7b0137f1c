/** Schemas shared by several routes: the SPEC §2 error body and the `{url}` style request bodies. */
import { Type } from 'typebox';

export const ErrorBodySchema = Type.Object(
  {
    error: Type.String({ description: 'The error category (SPEC §6), or "Rate limit exceeded" on a 429' }),
    title: Type.String(),
    message: Type.String(),
    action: Type.String(),
    errors: Type.Optional(Type.Record(Type.String(), Type.String())),
    limit_type: Type.Optional(Type.String()),
    reset_at: Type.Optional(Type.String()),
  },
  { additionalProperties: true, $id: 'ErrorBody' },
);

const errorRef = Type.Ref('ErrorBody');

/** Error responses for the OpenAPI document, by status. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorRef> {
  return Object.fromEntries(statuses.map((s) => [s, errorRef]));
}

/**
 * A nullable scalar as `type: [t, 'null']` rather than TypeBox's `anyOf`: the response serializer
 * compiles `anyOf` into a runtime check per value, which the job status pays on every poll.
 */
export function Nullable<T extends 'string' | 'integer' | 'number'>(type: T, description?: string) {
  return Type.Unsafe<(T extends 'string' ? string : number) | null>({ type: [type, 'null'], description });
}

/** Generous bounds: the parsers give the precise reasons; these only stop absurd input early. */
export const UrlField = Type.String({ maxLength: 4096, description: 'The video page URL' });
export const FormatIdField = Type.String({ maxLength: 200, description: 'A format id, `A+B`, or a selector' });
