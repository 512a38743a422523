import { isIPv6 } from 'node:net';
import type { FastifyRequest } from 'fastify';

/**
 * The client address limits are counted against. IPv4: the address. IPv6: its /64 network, because one
 * subscriber is routinely given a whole /64 and could otherwise present a fresh address for every request.
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, a dual-stack socket) counts as the IPv4 address.
 */
export function clientAddressKey(ip: string | undefined): string {
  // A socket the client has reset reports no address (Node's remoteAddress is then undefined); such a
  // request can no longer be answered, so one shared bucket is enough, and it must not throw (a client
  // could otherwise fill the log with error-level stack traces by resetting its connections).
  if (typeof ip !== 'string' || ip === '') return 'vanished';
  const address = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head, tail] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Whether the client has gone: it reset or closed its connection before the request was answered. The
 * socket tells, not the request stream: Node destroys a request stream once its body has been read.
 */
export function clientGone(request: FastifyRequest): boolean {
  const socket = request.raw.socket as { destroyed?: boolean } | null | undefined;
  return !socket || socket.destroyed === true;
}
