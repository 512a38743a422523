import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { buildServer } from '../src/server.ts';

/**
 * The OpenAPI document exactly as the service serves it at /api/4.0/openapi.json, from an app built
 * in-process on a throwaway SQLite directory (no port, no network). `EOA_PUBLIC_URL` left unset, so the
 * document names no host: `servers` is the serving host.
 */
export async function servedOpenApiDocument(): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-openapi-'));
  try {
    const app = await buildServer(loadConfig({ EOA_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }));
    try {
      const response = await app.inject({ method: 'GET', url: '/api/4.0/openapi.json' });
      if (response.statusCode !== 200) throw new Error(`GET /api/4.0/openapi.json answered ${response.statusCode}`);
      return `${JSON.stringify(JSON.parse(response.body), null, 2)}\n`;
    } finally {
      await app.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
