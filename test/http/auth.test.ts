import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { presentedToken } from '../../src/http/auth.ts';

const withHeader = (authorization?: unknown) => ({ headers: { authorization } }) as unknown as FastifyRequest;
const TOKEN = 'AbC_-123xyz'.repeat(4);

test('presentedToken reads "Bearer X" and "token X", any case, surrounding spaces allowed', () => {
  for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `token ${TOKEN}`, `Token   ${TOKEN}  `, `BEARER ${TOKEN}`]) {
    assert.equal(presentedToken(withHeader(header)), TOKEN, header);
  }
});

test('presentedToken refuses other schemes, bare tokens, several tokens and oversized ones', () => {
  for (const header of [undefined, '', TOKEN, `Basic ${TOKEN}`, `Bearer`, `Bearer ${TOKEN} extra`, `Bearer a,b c`, `Bearer ${'a'.repeat(513)}`, ['Bearer x']]) {
    assert.equal(presentedToken(withHeader(header)), null, String(header));
  }
});
