// `npm run lint:openapi`: Redocly's lint (recommended rules, redocly.yaml) on the document the service
// serves. Exits with Redocly's status: non-zero on any error.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { servedOpenApiDocument } from './served-openapi.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eoa-openapi-lint-'));
const file = path.join(dir, 'openapi.json');
fs.writeFileSync(file, await servedOpenApiDocument());
const redocly = path.resolve('node_modules/.bin/redocly');
const result = spawnSync(redocly, ['lint', '--config', 'redocly.yaml', file], { stdio: 'inherit', env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
fs.rmSync(dir, { recursive: true, force: true });
process.exit(result.status ?? 1);
