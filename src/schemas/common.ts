import { Type, type TSchema } from 'typebox';
import { ID_PATTERN } from '../store/values.ts';

/** Pieces every resource module shares: nullable wrappers, the `can` map, and Looker's error bodies. */

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * A numeric id in a path (`user_id`, `credentials_api3_id`…): only its canonical decimal spelling passes
 * (store/values.ts), and the error handler answers any other spelling 404, as it names nothing. Give every
 * id path parameter this schema, so the check comes with the route.
 */
export const IdParam = (description: string) => Type.String({ pattern: ID_PATTERN, description });

export const Can = Type.Record(Type.String(), Type.Boolean(), {
  description: 'Operations the current user is able to perform on this object',
});

export const DateTime = Type.String({ format: 'date-time' });

export const ErrorBody = Type.Object(
  {
    message: Type.String({ description: 'Error details' }),
    documentation_url: Type.String({ format: 'uri-reference', description: 'Documentation link' }),
  },
  { $id: 'Error' },
);

const ValidationErrorDetail = Type.Object({
  field: Type.String({ description: 'Field with error' }),
  code: Type.String({ description: 'Error code' }),
  message: Type.String({ description: 'Error info message' }),
  documentation_url: Type.String({ format: 'uri-reference', description: 'Documentation link' }),
});

export const ValidationErrorBody = Type.Object(
  {
    message: Type.String({ description: 'Error details' }),
    errors: Type.Array(ValidationErrorDetail, { description: 'Error detail array' }),
    documentation_url: Type.String({ format: 'uri-reference', description: 'Documentation link' }),
  },
  { $id: 'ValidationError' },
);

const ERROR_RESPONSE = {
  400: Type.Ref('Error', { description: 'Bad Request' }),
  401: Type.Ref('Error', { description: 'Requires authentication' }),
  403: Type.Ref('Error', { description: 'Permission Denied' }),
  404: Type.Ref('Error', { description: 'Not Found' }),
  409: Type.Ref('Error', { description: 'Resource Already Exists' }),
  413: Type.Ref('Error', { description: 'Request body is too large' }),
  422: Type.Ref('ValidationError', { description: 'Validation Error' }),
  429: Type.Ref('Error', { description: 'Too Many Requests' }),
  500: Type.Ref('Error', { description: 'Internal error' }),
  502: Type.Ref('Error', { description: "The external system (an application's OAuth provider) failed or could not be reached" }),
  504: Type.Ref('Error', { description: "The external system (an application's OAuth provider) did not answer in time" }),
} as const;

type ErrorStatus = keyof typeof ERROR_RESPONSE;

/**
 * The error part of a route's response map, spread into every route schema: 400, 401, 404, 429 and 500
 * can happen anywhere; a route adds the statuses its own rules produce (403, 409, 413, 422).
 */
export function errorResponses<S extends ErrorStatus>(...extra: S[]) {
  const statuses: ErrorStatus[] = [400, 401, 404, 429, 500, ...extra];
  return Object.fromEntries(statuses.map((s) => [s, ERROR_RESPONSE[s]])) as Pick<
    typeof ERROR_RESPONSE,
    400 | 401 | 404 | 429 | 500 | S
  >;
}

/** A 204 has no body; fastify sends none and no Content-Type when the handler sends nothing. */
export const NoContent = Type.Null({ description: 'Successfully deleted.' });

/** Looker's `fields` query parameter, accepted everywhere it is documented. */
export const FieldsQuery = Type.Optional(Type.String({ description: 'Requested fields.' }));

export const LimitQuery = Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, description: 'Number of results to return.' }));
// Bounded: past 2^53 a coerced number is no longer an integer SQLite can bind, so a larger offset is a 400.
export const OffsetQuery = Type.Optional(
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Number of results to skip before returning any.' }),
);
