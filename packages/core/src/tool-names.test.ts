import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isHomelabError } from './errors.ts';
import {
  createToolNameRegistry,
  MAX_TOOL_NAME,
  resourceUri,
  sanitizeName,
  sanitizePrefix,
  splitResourceUri,
  splitToolName,
  TOOL_PREFIX_PATTERN,
  toolName,
} from './tool-names.ts';

const VALID = /^[A-Za-z0-9_-]{1,64}$/; // what Anthropic/OpenAI/Gemini accept
const sha6 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 6);

describe('sanitizeName / sanitizePrefix', () => {
  it('replaces each run of other characters with one underscore and keeps existing ones', () => {
    expect(sanitizeName('light.turn on')).toBe('light_turn_on');
    expect(sanitizeName('température: été')).toBe('temp_rature_t_');
    expect(sanitizeName('a::b//c')).toBe('a_b_c');
    expect(sanitizeName('hub__pi__run_command')).toBe('hub__pi__run_command');
    expect(sanitizeName('get-status_v2')).toBe('get-status_v2');
    expect(sanitizeName('🔥fire')).toBe('_fire');
  });

  it('makes prefixes safe to split: no "__" inside, no "_" at the ends', () => {
    expect(sanitizePrefix('living room.')).toBe('living_room');
    expect(sanitizePrefix('a__b')).toBe('a_b');
    expect(sanitizePrefix('_pi_')).toBe('pi');
    for (const p of ['pi', 'nas-01', 'home_assistant']) expect(TOOL_PREFIX_PATTERN.test(p)).toBe(true);
    for (const p of ['a__b', 'pi_', '_pi', 'a.b', '']) expect(TOOL_PREFIX_PATTERN.test(p)).toBe(false);
  });
});

describe('toolName', () => {
  it('joins prefix and name with "__"', () => {
    expect(toolName('ha', 'HassTurnOn')).toBe('ha__HassTurnOn');
    expect(toolName('pi', 'run_command')).toBe('pi__run_command');
    expect(toolName('living room', 'light.on')).toBe('living_room__light_on');
  });

  it('keeps a name that fits exactly at the limit', () => {
    const name = 'x'.repeat(MAX_TOOL_NAME - 'pi__'.length);
    expect(toolName('pi', name)).toBe(`pi__${name}`);
    expect(toolName('pi', name)).toHaveLength(64);
  });

  it('cuts a long name to 64 characters ending in _ + 6 hex of sha256 of the original', () => {
    const name = 'get_' + 'very_long_descriptive_tool_name_'.repeat(3);
    const out = toolName('homeassistant', name);
    expect(out).toHaveLength(64);
    expect(out).toMatch(VALID);
    expect(out).toBe(`homeassistant__${name}`.slice(0, 57) + '_' + sha6(`homeassistant__${name}`));
    expect(out.startsWith('homeassistant__get_very_long')).toBe(true);
  });

  it('is stable and distinct for long names that share their first 57 characters', () => {
    const a = 'a'.repeat(70) + '_one';
    const b = 'a'.repeat(70) + '_two';
    expect(toolName('pi', a)).toBe(toolName('pi', a));
    expect(toolName('pi', a)).not.toBe(toolName('pi', b));
    expect(toolName('pi', a).slice(0, 57)).toBe(toolName('pi', b).slice(0, 57));
  });

  it('hashes the original, so inputs that sanitize alike still get different long names', () => {
    const long = 'x'.repeat(70);
    expect(toolName('pi', `${long}.a`)).not.toBe(toolName('pi', `${long} a`));
  });

  it('honours a smaller limit (room for the client-side "mcp__<alias>__")', () => {
    const max = MAX_TOOL_NAME - 'mcp__homelab__'.length; // 50
    const out = toolName('nas', 'list_smart_attributes_for_every_disk_in_the_array', max);
    expect(out).toHaveLength(50);
    expect(`mcp__homelab__${out}`).toMatch(VALID);
    expect(splitToolName(out)?.prefix).toBe('nas');
  });

  it('never cuts into the prefix and never leaves "_" before the suffix', () => {
    const out = toolName('pi', 'ab_'.repeat(30), 20);
    expect(out).toMatch(/^pi__[a-z_]*[a-z]_[0-9a-f]{6}$/);
    expect(out.length).toBeLessThanOrEqual(20);
    expect(() => toolName('a-very-long-prefix', 'tool_name', 20)).toThrow(
      'tool prefix "a-very-long-prefix" is too long for 20-character tool names (at most 10 characters)',
    );
  });

  it('refuses an empty prefix or name', () => {
    let err: unknown;
    try {
      toolName('...', 'x');
    } catch (e) {
      err = e;
    }
    expect(isHomelabError(err, 'TOOL_NAME_INVALID')).toBe(true);
    expect(() => toolName('pi', '')).toThrow('tool name under prefix "pi" is empty');
  });
});

describe('splitToolName', () => {
  it('splits at the first "__" so nested names survive', () => {
    expect(splitToolName('ha__HassTurnOn')).toEqual({ prefix: 'ha', rest: 'HassTurnOn' });
    expect(splitToolName('site1__pi__run_command')).toEqual({ prefix: 'site1', rest: 'pi__run_command' });
    expect(splitToolName('pi___private')).toEqual({ prefix: 'pi', rest: '_private' });
  });

  it('returns undefined without a prefix', () => {
    expect(splitToolName('get_topology_summary')).toBeUndefined();
    expect(splitToolName('__x')).toBeUndefined();
  });

  it('round-trips prefix through toolName even for awkward prefixes', () => {
    for (const [p, n] of [
      ['pi_', '_x'],
      ['a__b', 'c'],
      ['site 1', 'pi__run_command'],
    ] as const) {
      expect(splitToolName(toolName(p, n))?.prefix).toBe(sanitizePrefix(p));
    }
    expect(splitToolName(toolName('site 1', 'pi__run_command'))?.rest).toBe('pi__run_command');
  });
});

describe('createToolNameRegistry', () => {
  it('maps emitted names back to the original, including shortened ones', () => {
    const names = createToolNameRegistry();
    const long = 'describe_'.repeat(10);
    const emitted = names.register('ha', long);
    expect(emitted).toHaveLength(64);
    expect(names.resolve(emitted)).toEqual({ prefix: 'ha', name: long });
    expect(names.register('ha', 'light.turn_on')).toBe('ha__light_turn_on');
    expect(names.resolve('ha__light_turn_on')).toEqual({ prefix: 'ha', name: 'light.turn_on' });
    expect(names.resolve('ha__nope')).toBeUndefined();
  });

  it('is idempotent for the same original', () => {
    const names = createToolNameRegistry();
    expect(names.register('pi', 'a.b')).toBe(names.register('pi', 'a.b'));
    expect(names.size).toBe(1);
  });

  it('gives the second of two colliding originals a distinct hash-suffixed name', () => {
    const names = createToolNameRegistry();
    const first = names.register('ha', 'light.on');
    const second = names.register('ha', 'light on');
    expect(first).toBe('ha__light_on');
    expect(second).toBe(`ha__light_on_${sha6('ha__light on')}`);
    expect(names.resolve(first)).toEqual({ prefix: 'ha', name: 'light.on' });
    expect(names.resolve(second)).toEqual({ prefix: 'ha', name: 'light on' });
  });

  it('resolves a collision between prefixes that sanitize alike', () => {
    const names = createToolNameRegistry();
    const a = names.register('living room', 'on');
    const b = names.register('living.room', 'on');
    expect(a).toBe('living_room__on');
    expect(b).not.toBe(a);
    expect(splitToolName(b)?.prefix).toBe('living_room');
    expect(names.resolve(b)).toEqual({ prefix: 'living.room', name: 'on' });
  });

  it('stays unique when shortened names collide too, and always within the limit', () => {
    const names = createToolNameRegistry({ maxLength: 20 });
    const emitted = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const e = names.register('pi', `the_same_long_start_${i}`);
      expect(e.length).toBeLessThanOrEqual(20);
      expect(e).toMatch(VALID);
      emitted.add(e);
    }
    expect(emitted.size).toBe(500);
    // a literal upstream name equal to a generated one does not steal it
    const taken = names.register('pi', 'the_same_long_start_0');
    const literal = names.register('pi', taken.slice('pi__'.length));
    expect(literal).not.toBe(taken);
    expect(names.resolve(taken)).toEqual({ prefix: 'pi', name: 'the_same_long_start_0' });
  });

  it('is deterministic for the same registration order (stable across restarts)', () => {
    const tools = ['a.b', 'a b', 'a_b', 'x'.repeat(80), 'y'];
    const run = () => {
      const names = createToolNameRegistry();
      return tools.map((t) => names.register('pi', t));
    };
    expect(run()).toEqual(run());
  });

  it('forgets originals one by one or by prefix', () => {
    const names = createToolNameRegistry();
    const e = names.register('pi', 'run_command');
    names.register('pi', 'read_file');
    names.register('nas', 'read_file');
    expect(names.emittedName('pi', 'run_command')).toBe(e);
    expect(names.unregister('pi', 'run_command')).toBe(true);
    expect(names.unregister('pi', 'run_command')).toBe(false);
    expect(names.resolve(e)).toBeUndefined();
    names.unregisterPrefix('pi');
    expect(names.size).toBe(1);
    expect(names.resolve('nas__read_file')).toEqual({ prefix: 'nas', name: 'read_file' });
  });
});

describe('resourceUri / splitResourceUri', () => {
  it('encodes the original into one path segment', () => {
    expect(resourceUri('pi', 'file:///etc/hosts')).toBe('homelab://pi/file%3A%2F%2F%2Fetc%2Fhosts');
    expect(resourceUri('living room', 'memo:insights')).toBe('homelab://living_room/memo%3Ainsights');
  });

  it.each([
    'file:///a b',
    'ui://x',
    'memo:insights',
    'file:///tmp/100%25 done?#frag',
    'file:///srv/caf\u00e9/\u{1F525}.txt',
    'https://user@host:8123/api/states?entity_id=light.kitchen&x=%2F#top',
    'homelab://other/file%3A%2F%2F%2Fnested',
    'weird:%',
    '',
  ])('round-trips %j exactly and produces a valid URL', (uri) => {
    const ns = resourceUri('pi', uri);
    expect(splitResourceUri(ns)).toEqual({ prefix: 'pi', uri });
    expect(new URL(ns).href).toBe(ns); // a WHATWG parser leaves it unchanged
  });

  it('nests: a parent hub can namespace a namespaced URI', () => {
    const inner = resourceUri('pi', 'file:///a b');
    const outer = resourceUri('site1', inner);
    expect(splitResourceUri(outer)).toEqual({ prefix: 'site1', uri: inner });
    expect(splitResourceUri(splitResourceUri(outer)!.uri)).toEqual({ prefix: 'pi', uri: 'file:///a b' });
  });

  it('rejects URIs that are not ours or are malformed', () => {
    expect(splitResourceUri('file:///etc/hosts')).toBeUndefined();
    expect(splitResourceUri('homelab:///x')).toBeUndefined();
    expect(splitResourceUri('homelab://pi')).toBeUndefined();
    expect(splitResourceUri('homelab://pi/%E0%A4%A')).toBeUndefined();
    expect(splitResourceUri('HOMELAB://pi/a%20b')).toEqual({ prefix: 'pi', uri: 'a b' });
  });

  it('refuses a URI with a lone surrogate', () => {
    expect(() => resourceUri('pi', 'file:///\ud800')).toThrow('resource URI under "pi" is not valid Unicode');
  });
});
