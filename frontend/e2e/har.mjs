// Validates a HAR document against the HAR 1.2 JSON Schemas of the har-schema package.
import Ajv from 'ajv';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export function harValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  // The formats har-schema uses (ajv-formats is not needed for three of them).
  ajv.addFormat('ipv4', /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/);
  ajv.addFormat('ipv6', /^(?=.*:)[0-9a-fA-F:.]+$/);
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  const dir = dirname(require.resolve('har-schema'));
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  }
  const validate = ajv.getSchema('har.json#');
  return (document) => (validate(document) ? [] : validate.errors.map((e) => `${e.instancePath} ${e.message}`));
}
