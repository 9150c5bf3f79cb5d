import { describe, expect, it } from 'vitest';
import { parseCli, parseListen } from './cli.ts';

const caps = ['status', 'commands', 'files', 'env', 'systemd', 'smart', 'gpio'];
const io = (files: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) => ({
  env,
  capabilityNames: caps,
  readFile(p: string) {
    if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return files[p]!;
  },
});
const run = (argv: string[], files?: Record<string, string>, env?: NodeJS.ProcessEnv) => {
  const r = parseCli(argv, io(files, env));
  if (r.kind !== 'run') throw new Error('expected run');
  return r.options;
};
const TOKEN = 'abcdefghijklmnopqrstuvwxyz012345';

describe('parseCli', () => {
  it('defaults to loopback port 8222, root /, no token', () => {
    expect(run([])).toMatchObject({ host: '127.0.0.1', port: 8222, roots: ['/'], token: undefined, capabilities: {}, idleExitSeconds: 0 });
  });

  it('reads the token from a file or the environment, never both silently', () => {
    expect(run(['--token-file', '/t'], { '/t': `${TOKEN}\n` })).toMatchObject({ token: TOKEN, tokenSource: '/t' });
    expect(run([], {}, { HOMELAB_EDGE_TOKEN: TOKEN })).toMatchObject({ token: TOKEN, tokenSource: 'HOMELAB_EDGE_TOKEN' });
    expect(() => run(['--token-file', '/t'], { '/t': '\n' })).toThrow(/--token-file \/t: the file is empty/);
    expect(() => run([], {}, { HOMELAB_EDGE_TOKEN: 'short' })).toThrow(/too short/);
  });

  it('refuses a non-loopback bind without a token', () => {
    expect(() => run(['--listen', '0.0.0.0:8222'])).toThrow(/refusing to listen on 0\.0\.0\.0:8222 without a token/);
    expect(run(['--listen', '0.0.0.0:8222'], {}, { HOMELAB_EDGE_TOKEN: TOKEN }).host).toBe('0.0.0.0');
    expect(run(['--listen', '[::1]:9000']).host).toBe('::1');
    expect(run(['--listen', '127.0.0.2:1']).port).toBe(1);
  });

  it('switches capabilities by flag and config, flags winning', () => {
    const files = { '/c.json': JSON.stringify({ capabilities: { smart: false, gpio: false } }) };
    expect(run(['--config', '/c.json', '--enable-gpio', '--disable-commands'], files).capabilities).toEqual({ smart: false, gpio: true, commands: false });
  });

  it('names the flag, file and key, and what was expected', () => {
    expect(() => run(['--listen', 'host:http'])).toThrow('--listen: expected HOST:PORT with a port from 0 to 65535, got "host:http"');
    expect(() => run(['--root', 'relative'])).toThrow('--root: "relative" must be an absolute path');
    expect(() => run(['--max-output', '-1'])).toThrow('--max-output: expected a whole number > 0, got "-1"');
    expect(() => run(['--frobnicate'])).toThrow('unknown option --frobnicate');
    expect(() => run(['--listen'])).toThrow('--listen needs a value');
    expect(() => run(['--config', '/c.json'], { '/c.json': '{"roots": "/srv"}' })).toThrow('/c.json: key "roots": expected an array of strings');
    expect(() => run(['--config', '/c.json'], { '/c.json': '{"capabilities": {"x": true}}' })).toThrow('unknown capability "x"');
    expect(() => run(['--config', '/c.json'], { '/c.json': '{oops' })).toThrow(/\/c\.json: not valid JSON/);
    expect(() => run(['--config', '/missing.json'])).toThrow('--config /missing.json: cannot read (ENOENT)');
    expect(() => run(['--log-level', 'loud'])).toThrow('log level "loud"');
  });

  it('takes the compose directory from --compose-dir or composeDir, absolute only, flag winning', () => {
    expect(run([]).composeDir).toBeUndefined();
    expect(run(['--compose-dir', '/srv/stacks/']).composeDir).toBe('/srv/stacks');
    const files = { '/c.json': JSON.stringify({ composeDir: '/opt/compose' }) };
    expect(run(['--config', '/c.json'], files).composeDir).toBe('/opt/compose');
    expect(run(['--config', '/c.json', '--compose-dir=/srv/stacks'], files).composeDir).toBe('/srv/stacks');
    expect(() => run(['--compose-dir', 'stacks'])).toThrow('--compose-dir: "stacks" must be an absolute path');
    expect(() => run(['--config', '/c.json'], { '/c.json': '{"composeDir": "rel"}' })).toThrow('/c.json: key "composeDir": "rel" must be an absolute path');
    expect(() => run(['--config', '/c.json'], { '/c.json': '{"composeDir": 1}' })).toThrow('/c.json: key "composeDir": expected a string');
  });

  it('recognizes --help and --version', () => {
    expect(parseCli(['--listen', 'x', '--help'], io()).kind).toBe('help');
    expect(parseCli(['--version'], io()).kind).toBe('version');
  });
});

describe('parseListen', () => {
  it('accepts the usual forms', () => {
    expect(parseListen('8222', 'x')).toEqual({ host: '127.0.0.1', port: 8222 });
    expect(parseListen(':8222', 'x')).toEqual({ host: '0.0.0.0', port: 8222 });
    expect(parseListen('[fe80::1]:80', 'x')).toEqual({ host: 'fe80::1', port: 80 });
  });

  it('reads --allow-special-modes and --max-commands, and remembers the token and config files (never served)', () => {
    expect(run([])).toMatchObject({ allowSpecialModes: false, maxCommands: 32 });
    expect(run(['--allow-special-modes', '--max-commands', '2'])).toMatchObject({ allowSpecialModes: true, maxCommands: 2 });
    expect(run(['--config', '/c.json'], { '/c.json': '{"allowSpecialModes": true, "maxCommands": 8, "tokenFile": "/t"}', '/t': TOKEN })).toMatchObject({
      allowSpecialModes: true,
      maxCommands: 8,
      tokenFile: '/t',
      configFile: '/c.json',
    });
    expect(() => run(['--allow-special-modes=yes'])).toThrow('--allow-special-modes takes no value');
    expect(() => run(['--max-commands', '0'])).toThrow(/--max-commands: expected a whole number > 0/);
  });
});
