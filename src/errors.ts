/**
 * The closed list of errors this service answers with, each mapped to its HTTP status and a Looker body
 * in this one place. Only errors below 500 say what went wrong.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  validation_failed: 422,
  rate_limited: 429,
  headers_too_large: 431,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
  store_unavailable: 503,
  gateway_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The fixed messages Looker clients see; a caller may give a more precise one for 400/403/409. */
const DEFAULT_MESSAGE: Record<ErrorCode, string> = {
  bad_request: 'Bad Request',
  unauthorized: 'Requires authentication.',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  method_not_allowed: 'Method Not Allowed',
  request_timeout: 'Request Timeout',
  conflict: 'Resource Already Exists',
  payload_too_large: 'Request body is too large',
  validation_failed: 'Validation Failed',
  rate_limited: 'Too Many Requests',
  headers_too_large: 'Request header fields too large',
  internal: 'An internal error occurred.',
  bad_gateway: 'Bad Gateway',
  unavailable: 'Service Unavailable',
  store_unavailable: 'Service Unavailable',
  gateway_timeout: 'Gateway Timeout',
};

export interface ValidationProblem {
  field: string;
  code: 'missing_field' | 'invalid' | 'already_exists';
  message: string;
}

export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly problems: ValidationProblem[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message ?? DEFAULT_MESSAGE[code]);
    this.name = 'ApiError';
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = () => new ApiError('not_found');
export const conflict = (message: string) => new ApiError('conflict', message);
export const badRequest = (message: string) => new ApiError('bad_request', message);
export const invalid = (problems: ValidationProblem[]) => new ApiError('validation_failed', undefined, problems);

interface LookerError {
  message: string;
  documentation_url: string;
}

interface LookerValidationError extends LookerError {
  errors: Array<ValidationProblem & { documentation_url: string }>;
}

/** Builds the body Looker clients expect for an error; `docsBase` is this service's public base URL. */
export function errorBody(error: ApiError, docsBase: string): LookerError | LookerValidationError {
  const documentation_url = `${docsBase}/docs/errors#${error.status}`;
  if (error.code === 'validation_failed') {
    return {
      message: error.message,
      errors: error.problems.map((p) => ({ ...p, documentation_url })),
      documentation_url,
    };
  }
  // 5xx bodies carry the fixed message only, whatever the error said.
  const message = error.status >= 500 ? DEFAULT_MESSAGE[error.code] : error.message;
  return { message, documentation_url };
}

/** What each status means, for the error documentation page. */
export const ERROR_DOCS: Array<{ status: number; title: string; text: string }> = [
  { status: 400, title: 'Bad Request', text: 'The body is not valid JSON, is not a JSON object, or has the wrong content type; a query parameter is unknown, repeated or malformed; or the request is not valid HTTP.' },
  { status: 401, title: 'Requires authentication', text: 'No access token, or one that is unknown, expired or logged out. Log in with POST /api/4.0/login.' },
  { status: 403, title: 'Forbidden', text: 'The operation is not allowed on this object, for example deleting your own user.' },
  { status: 404, title: 'Not found', text: 'The object does not exist, the login credentials are wrong, or the caller may not use this endpoint. The service does not reveal which.' },
  { status: 405, title: 'Method Not Allowed', text: 'The path exists but does not accept this method.' },
  { status: 408, title: 'Request Timeout', text: 'The client took too long to send the request headers or body; the connection is closed.' },
  { status: 409, title: 'Resource Already Exists', text: 'A unique field (such as client_id or name) is already taken; the message says which.' },
  { status: 413, title: 'Request body is too large', text: 'The request body is over the configured limit (1 MiB by default).' },
  { status: 422, title: 'Validation Failed', text: 'One or more fields are missing or invalid; `errors` lists every problem at once.' },
  { status: 429, title: 'Too Many Requests', text: 'A rate limit was reached; retry after the number of seconds in the Retry-After header.' },
  { status: 431, title: 'Request header fields too large', text: 'The request headers are over the size limit; the connection is closed.' },
  { status: 500, title: 'Internal error', text: 'An unexpected failure. It is logged with the request id given in the x-request-id header.' },
  { status: 502, title: 'Bad Gateway', text: "The external system (an application's OAuth provider) could not be reached, failed, or refused the application's client credentials; the stored tokens are unchanged. Retry after the number of seconds in the Retry-After header." },
  { status: 503, title: 'Service Unavailable', text: 'The service is stopping, cannot reach its database, or its database is out of space; retry after the number of seconds in the Retry-After header.' },
  { status: 504, title: 'Gateway Timeout', text: "The external system (an application's OAuth provider) did not answer in time; the stored tokens are unchanged. Retry after the number of seconds in the Retry-After header." },
];
