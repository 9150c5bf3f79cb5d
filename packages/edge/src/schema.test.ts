import { describe, expect, it } from 'vitest';
import type { JsonSchema } from './capability.ts';
import { validate } from './schema.ts';

const schema: JsonSchema = {
  type: 'object',
  properties: {
    cmd: { type: 'string', minLength: 1 },
    timeout_s: { type: 'number', minimum: 0.1, maximum: 10 },
    n: { type: 'integer' },
    enc: { type: 'string', enum: ['utf8', 'base64'] },
    env: { type: 'object', additionalProperties: { type: 'string' } },
    list: { type: 'array', items: { type: 'string' }, maxItems: 2 },
  },
  required: ['cmd'],
  additionalProperties: false,
};

describe('validate', () => {
  it('accepts valid arguments', () => {
    expect(validate(schema, { cmd: 'ls', timeout_s: 2, n: 3, enc: 'utf8', env: { A: 'b' }, list: ['x'] })).toEqual([]);
  });
  it('names each bad argument and what was expected', () => {
    expect(validate(schema, { timeout_s: 20, n: 1.5, enc: 'hex', env: { A: 1 }, list: ['a', 'b', 'c'], extra: 1 })).toEqual([
      'cmd: is required',
      'timeout_s: must be <= 10',
      'n: expected integer, got number',
      'enc: must be one of "utf8", "base64"',
      'env.A: expected string, got integer',
      'list: must have at most 2 items',
      'extra: is not a known argument',
    ]);
    expect(validate(schema, 'x')).toEqual(['(arguments): expected object, got string']);
    expect(validate(schema, { cmd: '' })).toEqual(['cmd: must be at least 1 characters']);
  });
});

describe('anyOf', () => {
  const s: JsonSchema = { anyOf: [{ type: 'integer', minimum: 0, maximum: 9 }, { type: 'string', maxLength: 3 }] };
  it('accepts a value any branch accepts, and explains every branch otherwise', () => {
    expect(validate(s, 5)).toEqual([]);
    expect(validate(s, 'abc')).toEqual([]);
    expect(validate(s, 10, 'line')).toEqual(['line: must be <= 9; or expected string, got integer']);
    expect(validate(s, true, 'line')).toEqual(['line: expected integer, got boolean; or expected string, got boolean']);
  });
});
