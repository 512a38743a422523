import type { FastifyRequest } from 'fastify';

/** A Host header can hold anything; only a plain host[:port] is echoed back into URLs. */
const PLAIN_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The service's public base URL: EOA_PUBLIC_URL when set, otherwise taken from the request. */
export function publicBase(request: FastifyRequest, configured: string | null): string {
  if (configured) return configured;
  const host = request.host;
  const safeHost = host && PLAIN_HOST.test(host) ? host : 'localhost';
  return `${request.protocol}://${safeHost}`;
}
