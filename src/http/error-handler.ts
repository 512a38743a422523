import fp from 'fastify-plugin';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorBody, invalid } from './errors.ts';
import { isWrongBodyType, toValidationProblems } from './validation.ts';
import { publicBase } from './public-url.ts';

/**
 * Turns every failure into Looker's error bodies. Expected failures arrive as ApiError; fastify's own
 * (parsing, size, validation) are mapped by code; anything else is a 500 that reveals nothing and is
 * logged with the request id.
 */
export default fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
      const apiError = toApiError(error);
      if (apiError.status >= 500) {
        request.log.error({ err: error, reqId: request.id }, 'request failed');
      }
      return sendError(request, reply, apiError);
    });

    app.setNotFoundHandler((request, reply) => sendError(request, reply, new ApiError('not_found')));
  },
  { name: 'error-handler' },
);

export function sendError(request: FastifyRequest, reply: FastifyReply, error: ApiError) {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.code(error.status).send(errorBody(error, publicBase(request, request.server.config.publicUrl)));
}

function toApiError(error: FastifyError | ApiError): ApiError {
  if (error instanceof ApiError) return error;
  if (error.validation) {
    const part = error.validationContext ?? 'body';
    if (part === 'body' && isWrongBodyType(error.validation as never)) {
      return new ApiError('bad_request', 'The request body must be a JSON object.');
    }
    return invalid(toValidationProblems(error.validation as never, part));
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('bad_request', 'Unsupported Content-Type: send application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('bad_request', 'The request body is empty.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('bad_request', 'The request body is not valid JSON.');
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new ApiError('bad_request', 'The request body is not valid JSON.');
  }
  if (error.statusCode === 413) return new ApiError('payload_too_large');
  if (error.statusCode === 404) return new ApiError('not_found');
  if (error.statusCode === 429) return new ApiError('rate_limited');
  if (error.statusCode === 503) return new ApiError('unavailable');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError('bad_request');
  }
  return new ApiError('internal');
}
