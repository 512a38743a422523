import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ApiError, errorBody, type ErrorCode } from '../errors.ts';
import { ALWAYS } from './response-headers.ts';

/**
 * fastify's `clientErrorHandler`: Node could not parse a request at all (a broken request line, headers
 * over the size limit, a client too slow to send them), so no route, hook or error handler runs. The
 * answer is still Looker's error body with an `x-request-id`, so a client and the operator can tell it
 * apart. A socket the client already reset gets nothing: that is not an error, and it is logged at debug.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  const requestId = randomUUID();
  this.log.debug({ reqId: requestId, code: error.code }, 'client error');
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const code: ErrorCode = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_request';
    const apiError = new ApiError(code, code === 'bad_request' ? 'The request could not be parsed as HTTP/1.1.' : undefined);
    // No Host header to trust here: the documentation link is relative unless EOA_PUBLIC_URL is set.
    const body = JSON.stringify(errorBody(apiError, this.config?.publicUrl ?? ''));
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'x-request-id': requestId,
      ...ALWAYS,
      connection: 'close',
    };
    const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(`HTTP/1.1 ${apiError.status} ${STATUS_TEXT[apiError.status] ?? 'Bad Request'}\r\n${head}\r\n${body}`);
  }
  socket.destroy(error);
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };
