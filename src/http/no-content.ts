import type { FastifyReply } from 'fastify';

/** 204 with no body: fastify then sends no Content-Type either, which the Looker SDK requires. */
export function noContent(reply: FastifyReply) {
  return reply.code(204).send();
}
