/**
 * Whatever an external system answers, the service speaks of it with one of these codes: they are what a
 * log line, a status or an error page may say. Provider text (`error_description`, Snowflake's `message`)
 * is never repeated: it is not ours to vouch for, and some providers echo the request in it.
 */
export type ProviderErrorCode =
  /** The code, or the refresh token, is unknown, expired, spent, or was issued to someone else (RFC 6749 §5.2). */
  | 'invalid_grant'
  /** The provider does not accept the client id and secret. */
  | 'invalid_client'
  /** The user, or the provider, refused the authorization. */
  | 'access_denied'
  /** The provider refused the request for another reason it names (invalid_request, invalid_scope, …). */
  | 'rejected'
  /** The provider answered 5xx, or server_error / temporarily_unavailable. */
  | 'server_error'
  /** No connection: refused, reset, DNS. */
  | 'unreachable'
  /** No complete answer within the timeout. */
  | 'timeout'
  /** An answer that is not what the protocol says: not JSON, too large, a redirect, fields missing. */
  | 'malformed';

export class ProviderError extends Error {
  constructor(
    readonly code: ProviderErrorCode,
    /** The HTTP status the provider answered with, when it answered. */
    readonly status: number | null = null,
  ) {
    // Fixed text only: this message may be logged, so nothing the provider sent, and no secret, goes in it.
    super(`provider error: ${code}${status === null ? '' : ` (HTTP ${status})`}`);
    this.name = 'ProviderError';
  }
}

const GRANT_ERRORS: Record<string, ProviderErrorCode> = {
  invalid_grant: 'invalid_grant',
  invalid_client: 'invalid_client',
  unauthorized_client: 'invalid_client',
  access_denied: 'access_denied',
  server_error: 'server_error',
  temporarily_unavailable: 'server_error',
};

/** An OAuth `error` value (token endpoint or authorization response) as one of ours. */
function providerErrorCode(error: string): ProviderErrorCode {
  return Object.hasOwn(GRANT_ERRORS, error) ? GRANT_ERRORS[error] : 'rejected';
}

/**
 * The error in a token endpoint answer, or null when it is not one. Reads RFC 6749 §5.2 bodies
 * (`{"error": "invalid_grant", …}`) and Snowflake's own shape, `{"data", "message", "code", "success": false,
 * "error"}`, which Snowflake may send with any status. A 401 without a usable body is a client
 * authentication failure (RFC 6749 §5.2 says the server answers 401 for it); any other non-2xx without one
 * says the provider failed or is something else.
 */
export function tokenEndpointError(status: number, body: unknown): ProviderError | null {
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  const error = fields && typeof fields.error === 'string' && fields.error !== '' ? fields.error : null;
  const snowflakeFailure = fields?.success === false;
  if (status >= 200 && status < 300 && error === null && !snowflakeFailure) return null;
  if (error !== null) return new ProviderError(providerErrorCode(error), status);
  if (status === 401) return new ProviderError('invalid_client', status);
  if (status >= 500) return new ProviderError('server_error', status);
  return new ProviderError('malformed', status);
}
