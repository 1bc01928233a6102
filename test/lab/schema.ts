// A validator for the subset of JSON Schema that docs/lab-output.schema.json uses, shared by the
// tests that check the lab's --json output.
import fs from 'node:fs';
import path from 'node:path';

// Stricter than JSON Schema on one point: a property the schema does not document is an error,
// so the documentation cannot fall behind the output.
export interface Schema {
  $ref?: string; $defs?: Record<string, Schema>; type?: string | string[]; const?: unknown; enum?: unknown[];
  required?: string[]; properties?: Record<string, Schema>; items?: Schema; minItems?: number; minimum?: number;
  oneOf?: Schema[]; allOf?: Schema[]; description?: string; title?: string; $schema?: string; $id?: string;
}
const SUPPORTED = new Set(['$ref', '$defs', 'type', 'const', 'enum', 'required', 'properties', 'items', 'minItems', 'minimum', 'oneOf', 'allOf', 'description', 'title', '$schema', '$id']);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function validateAgainst(schema: Schema, value: unknown, node: Schema, at = '$'): string[] {
  for (const key of Object.keys(node)) if (!SUPPORTED.has(key)) return [`${at}: the test validator does not support "${key}"`];
  if (node.$ref) {
    const name = /^#\/\$defs\/(.+)$/.exec(node.$ref)?.[1];
    const target = name ? schema.$defs?.[name] : undefined;
    return target ? validateAgainst(schema, value, target, at) : [`${at}: unresolved ${node.$ref}`];
  }
  const errors: string[] = [];
  const actual = typeOf(value);
  if (node.type) {
    const types = Array.isArray(node.type) ? node.type : [node.type];
    if (!types.some((t) => t === actual || (t === 'number' && actual === 'integer'))) return [`${at}: ${actual}, expected ${types.join(' or ')}`];
  }
  if ('const' in node && value !== node.const) errors.push(`${at}: ${JSON.stringify(value)}, expected ${JSON.stringify(node.const)}`);
  if (node.enum && !node.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(node.enum)}`);
  if (node.minimum !== undefined && typeof value === 'number' && value < node.minimum) errors.push(`${at}: ${value} < ${node.minimum}`);
  if (node.oneOf) {
    const matching = node.oneOf.filter((s) => validateAgainst(schema, value, s, at).length === 0).length;
    if (matching !== 1) errors.push(`${at}: matches ${matching} of oneOf, expected exactly 1`);
  }
  for (const s of node.allOf ?? []) errors.push(...validateAgainst(schema, value, s, at));
  if (actual === 'object' && (node.properties || node.required)) {
    const object = value as Record<string, unknown>;
    for (const key of node.required ?? []) if (!(key in object)) errors.push(`${at}: missing ${key}`);
    for (const [key, v] of Object.entries(object)) {
      const child = node.properties?.[key];
      errors.push(...(child ? validateAgainst(schema, v, child, `${at}.${key}`) : [`${at}.${key}: not in the schema`]));
    }
  }
  if (actual === 'array') {
    const array = value as unknown[];
    if (node.minItems !== undefined && array.length < node.minItems) errors.push(`${at}: ${array.length} items, expected at least ${node.minItems}`);
    if (node.items) array.forEach((item, i) => errors.push(...validateAgainst(schema, item, node.items!, `${at}[${i}]`)));
  }
  return errors;
}


/** The schema, and a validator that returns every problem (an empty list: valid). */
export function labSchema(): { schema: Schema; validate: (value: unknown, node?: Schema) => string[] } {
  const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'lab-output.schema.json'), 'utf8')) as Schema;
  return { schema, validate: (value, node = schema) => validateAgainst(schema, value, node) };
}
