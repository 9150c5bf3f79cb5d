/**
 * A small JSON Schema validator for tool arguments. The edge cannot afford ajv or zod
 * (memory and bundle size are its budget), and its tools only use a narrow subset:
 * objects with typed properties, required keys, enums, bounds and `additionalProperties`.
 * Unknown keywords are ignored, as JSON Schema says they must be.
 */
import type { JsonSchema } from './capability.ts';

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function matchesType(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

/**
 * Returns the problems with `value` against `schema`, each naming the argument path,
 * or an empty array when it is valid.
 *
 * @example validate({ type: 'object', required: ['cmd'] }, {}) // ['cmd: is required']
 */
export function validate(schema: JsonSchema, value: unknown, path = ''): string[] {
  const here = path || '(arguments)';
  const errors: string[] = [];
  if (schema.anyOf) {
    const each = schema.anyOf.map((sub) => validate(sub, value, path));
    if (!each.some((e) => e.length === 0)) return [`${here}: ${each.map((e) => e.map((m) => m.slice(here.length + 2)).join(', ')).join('; or ')}`];
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(value, t))) {
      return [`${here}: expected ${types.join(' or ')}, got ${typeOf(value)}`];
    }
  }
  if (schema.enum && !schema.enum.includes(value as never)) {
    errors.push(`${here}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${here}: must be >= ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${here}: must be <= ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${here}: must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${here}: must be at most ${schema.maxLength} characters`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${here}: must have at most ${schema.maxItems} items`);
    if (schema.items) value.forEach((x, i) => errors.push(...validate(schema.items!, x, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (obj[key] === undefined) errors.push(`${path ? path + '.' : ''}${key}: is required`);
    }
    for (const [key, v] of Object.entries(obj)) {
      const sub = schema.properties?.[key];
      const child = path ? `${path}.${key}` : key;
      if (sub) errors.push(...validate(sub, v, child));
      else if (schema.additionalProperties === false) errors.push(`${child}: is not a known argument`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties, v, child));
    }
  }
  return errors;
}
