import fp from 'fastify-plugin';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorBody, invalid } from '../errors.ts';
import { wrongBodyType, toValidationProblems } from './validation.ts';
import { publicBase } from './public-url.ts';
import { logRequest } from './request-log.ts';
import { STORE_RETRY_AFTER_S, unavailability } from '../store/availability.ts';
import { setSecurityHeaders } from './response-headers.ts';
import { clientGone } from './client-address.ts';

/**
 * Turns every failure into Looker's error bodies. Expected failures arrive as ApiError; fastify's own
 * (parsing, size, validation) are mapped by code; anything else is a 500 that reveals nothing and is
 * logged with the request id.
 */
export default fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
      // The client reset its connection (mid-body, say): nobody is left to answer, and it is no fault of
      // the service, so it is neither an error line nor a store outage (both are ECONNRESET).
      if (clientGone(request)) {
        request.log.info({ code: (error as { code?: string }).code, reqId: request.id }, 'client went away');
        return sendError(request, reply, new ApiError('bad_request', 'The client closed the connection.'));
      }
      const unavailable = unavailability(error);
      // Readiness tries a write until one succeeds again (api/public.ts).
      if (unavailable === 'out_of_space') app.writeHealth.outOfSpace();
      const apiError = unavailable ? storeUnavailable() : toApiError(error, request.body);
      if (apiError.status >= 500) {
        request.log.error({ err: error, reqId: request.id }, 'request failed');
      }
      return sendError(request, reply, apiError);
    });

    app.setNotFoundHandler((request, reply) => sendError(request, reply, new ApiError('not_found')));
  },
  { name: 'error-handler' },
);

/**
 * Fastify's `frameworkErrors` hook: a path that cannot be decoded (`%E0%A4%A`) or a path parameter over
 * the router's length limit names nothing that exists, so it is a 404 like any unknown path.
 */
export function frameworkError(_error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  // Fastify answers these before routing, so no hook runs: the request id, headers and log line are added here.
  reply.header('x-request-id', request.id);
  setSecurityHeaders(reply);
  sendError(request, reply, new ApiError('not_found'));
  logRequest(request.server.log, request, reply);
}

/** The database is unreachable or out of space: the client may retry, as it would after a 429. */
function storeUnavailable(): ApiError {
  return new ApiError('store_unavailable', undefined, [], { 'retry-after': String(STORE_RETRY_AFTER_S) });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: ApiError) {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.code(error.status).send(errorBody(error, publicBase(request, request.server.config.publicUrl)));
}

function bodyRequired(expected: string, body: unknown): string {
  if (body === undefined) return `The request body is empty: send a JSON ${expected}.`;
  return `The request body must be a JSON ${expected}.`;
}

export function toApiError(error: FastifyError | ApiError, body: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error.validation) {
    const part = error.validationContext ?? 'body';
    const wrongType = part === 'body' ? wrongBodyType(error.validation as never) : null;
    if (wrongType) return new ApiError('bad_request', bodyRequired(wrongType, body));
    // A path parameter that fails its schema (an id spelled `01`) names nothing that exists.
    if (part === 'params') return new ApiError('not_found');
    const problems = toValidationProblems(error.validation as never, part);
    // Looker documents 422 only for bodies; a malformed query string is a 400 on every operation.
    if (part !== 'body') {
      return new ApiError('bad_request', `Invalid ${part === 'querystring' ? 'query string' : part}. ${problems.map((p) => `${p.field}: ${p.message}`).join(' ')}`);
    }
    return invalid(problems);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('bad_request', 'Unsupported Content-Type: send application/json (login also takes application/x-www-form-urlencoded).');
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
