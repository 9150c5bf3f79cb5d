import { describe, expect, it } from 'vitest';
import { parseConfigText } from '@homelab-mcp/core/config';
import { HubConfigSchema } from './schema.ts';

const parse = (text: string) => parseConfigText(text, 'hub.yaml', HubConfigSchema, { env: {} });

describe('hub.yaml topology section', () => {
  it('defaults to a 60-minute refresh and nothing declared', () => {
    expect(parse('listen: 127.0.0.1:8765\n').topology).toEqual({ refreshMinutes: 60 });
    expect(parse('topology:\n  file: t.yaml\n  ansible: {inventory: hosts.ini}\n').topology).toEqual({
      file: 't.yaml',
      refreshMinutes: 60,
      ansible: { inventory: 'hosts.ini', pattern: 'all', timeoutSeconds: 300 },
    });
  });

  it('refuses an Ansible pattern that would read as an option, and unknown keys', () => {
    expect(() => parse('topology:\n  ansible: {inventory: h, pattern: "--become"}\n')).toThrow(
      'hub.yaml:2:27: key "topology.ansible.pattern": an Ansible host pattern such as all, webservers or "pi*:!pi-old"',
    );
    expect(() => parse('topology:\n  refreshMinute: 5\n')).toThrow('key "topology.refreshMinute": unknown key "refreshMinute", did you mean "refreshMinutes"?');
    expect(() => parse('topology:\n  refreshMinutes: 0\n')).toThrow('key "topology.refreshMinutes": expected a number > 0');
  });
});

describe('hub.yaml limits section', () => {
  it('defaults the security limits, and names the key of a value out of range', () => {
    expect(parse('listen: 127.0.0.1:8765\n').limits).toEqual({ maxBodyBytes: 4 * 1024 * 1024, maxResultBytes: 8 * 1024 * 1024, maxJsonDepth: 64, authFailuresPerMinute: 30, callTimeoutMs: 120_000, maxToolName: 50 });
    expect(parse('limits:\n  maxResultBytes: 1048576\n').limits.maxJsonDepth).toBe(64);
    expect(() => parse('limits:\n  maxResultBytes: 10\n')).toThrow('key "limits.maxResultBytes"');
    expect(() => parse('limits:\n  maxJsonDepth: 5000\n')).toThrow('key "limits.maxJsonDepth"');
  });
});
