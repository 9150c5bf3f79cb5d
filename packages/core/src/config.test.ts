import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ConfigError, formatKeyPath, formatZodIssues, isConfigError, loadConfigFile, parseConfigText } from './config.ts';
import { isHomelabError } from './errors.ts';

const Hub = z.strictObject({
  listen: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.int().min(1).max(65535),
  }),
  approval: z.enum(['session', 'confirm', 'human']).default('session'),
  nodes: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        url: z.url().optional(),
        token: z.string().optional(),
        roles: z.array(z.string()).default([]),
      }),
    )
    .default([]),
  tokens: z
    .array(z.strictObject({ user: z.string(), token: z.string().min(16), role: z.enum(['admin', 'operator', 'viewer']) }))
    .optional(),
});

/** The message a user would see, or a failure if parsing succeeded. */
function errorOf(text: string, env: NodeJS.ProcessEnv = {}, schema: z.ZodType = Hub, file = 'hub.yaml'): ConfigError {
  try {
    parseConfigText(text, file, schema, { env });
  } catch (err) {
    if (isConfigError(err)) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfigText: valid files', () => {
  it('returns the typed value with defaults applied', () => {
    const cfg = parseConfigText('listen:\n  port: 8765\nnodes:\n  - name: pi\n', 'hub.yaml', Hub, { env: {} });
    expect(cfg).toEqual({
      listen: { host: '127.0.0.1', port: 8765 },
      approval: 'session',
      nodes: [{ name: 'pi', roles: [] }],
    });
  });

  it('reads JSON, tab-indented included, as YAML', () => {
    const json = '{\n\t"listen": {"port": 8765},\n\t"nodes": [{"name": "pi", "roles": ["speaker"]}]\n}\n';
    expect(parseConfigText(json, 'hub.json', Hub, { env: {} }).nodes[0]?.roles).toEqual(['speaker']);
  });

  it('supports anchors and merge keys', () => {
    const text = 'listen: {port: 1}\nnodes:\n  - &pi {name: pi, roles: [speaker]}\n  - <<: *pi\n    name: pi2\n';
    expect(parseConfigText(text, 'hub.yaml', Hub, { env: {} }).nodes[1]).toEqual({ name: 'pi2', roles: ['speaker'] });
  });
});

describe('parseConfigText: validation errors a user sees', () => {
  it('names the file, line:column, key path and suggests the intended key for a typo', () => {
    const err = errorOf('listen:\n  port: 8765\nnodes:\n  - name: pi\n    tokne: abc\n');
    expect(err.message).toBe(
      'hub.yaml:5:5: key "nodes[0].tokne": unknown key "tokne", did you mean "token"? (expected one of: name, url, token, roles)',
    );
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.reason).toBe('invalid');
    expect(isHomelabError(err, 'CONFIG_INVALID')).toBe(true);
  });

  it('gives no suggestion when nothing is close, at the top level too', () => {
    expect(errorOf('listen: {port: 1}\nfrobnicate: true\n').message).toBe(
      'hub.yaml:2:1: key "frobnicate": unknown key "frobnicate" (expected one of: listen, approval, nodes, tokens)',
    );
  });

  it('lists every problem, one per line, in order', () => {
    const text = [
      'listen:',
      '  host: 127.0.0.1',
      '  port: "8765"', // a string, not a number
      'approval: sesion',
      'nodes:',
      '  - name: ""',
      '    url: not a url',
      '  - roles: speaker',
      '',
    ].join('\n');
    expect(errorOf(text).problems).toEqual([
      'hub.yaml:3:3: key "listen.port": expected number, got string',
      'hub.yaml:4:1: key "approval": expected one of "session", "confirm", "human"',
      'hub.yaml:6:5: key "nodes[0].name": must not be empty',
      'hub.yaml:7:5: key "nodes[0].url": expected a URL',
      'hub.yaml:8:5: key "nodes[1].name": missing required key (expected string)',
      'hub.yaml:8:5: key "nodes[1].roles": expected list, got string',
    ]);
    expect(errorOf(text).message.split('\n')).toHaveLength(6);
  });

  it('reports out-of-range numbers and short lists in words', () => {
    expect(errorOf('listen: {port: 70000}\n').message).toBe('hub.yaml:1:10: key "listen.port": expected a number <= 65535');
    expect(errorOf('listen: {port: 80.5}\n').message).toBe('hub.yaml:1:10: key "listen.port": expected integer, got number');
    const S = z.strictObject({ nodes: z.array(z.string()).min(2) });
    expect(errorOf('nodes: [a]\n', {}, S).message).toBe('hub.yaml:1:1: key "nodes": expected at least 2 items, got 1');
  });

  it('reports a wrong top-level type without a key', () => {
    expect(errorOf('- a\n- b\n').message).toBe('hub.yaml: expected mapping, got list');
  });

  it('keeps a refinement message written by the schema author', () => {
    const S = z.strictObject({
      listen: z.strictObject({ port: z.number().refine((p) => p !== 22, 'port 22 is reserved for ssh') }),
    });
    expect(errorOf('listen:\n  port: 22\n', {}, S).message).toBe('hub.yaml:2:3: key "listen.port": port 22 is reserved for ssh');
    const T = z.strictObject({ host: z.string({ error: 'host must be a hostname in quotes' }) });
    expect(errorOf('host: 1\n', {}, T).message).toBe('hub.yaml:1:1: key "host": host must be a hostname in quotes');
  });

  it('explains unions: type mismatch across branches, or the closest branch', () => {
    const S = z.strictObject({
      timeout: z.union([z.number(), z.string()]),
      upstream: z.union([
        z.strictObject({ kind: z.literal('mcp'), url: z.string() }),
        z.strictObject({ kind: z.literal('edge'), node: z.string() }),
      ]),
    });
    expect(errorOf('timeout: true\nupstream:\n  kind: edge\n  nod: pi\n', {}, S).problems).toEqual([
      'hub.yaml:1:1: key "timeout": expected number or string, got boolean',
      // a missing key is reported at the mapping that should hold it
      'hub.yaml:2:1: key "upstream.node": missing required key (expected string)',
      'hub.yaml:4:3: key "upstream.nod": unknown key "nod", did you mean "node"? (expected one of: kind, node)',
    ]);
  });

  it('explains a discriminated union with an unknown tag and lists the right keys', () => {
    const S = z.strictObject({
      upstreams: z.array(
        z.discriminatedUnion('type', [
          z.strictObject({ type: z.literal('mcp'), url: z.string() }),
          z.strictObject({ type: z.literal('edge'), node: z.string() }),
        ]),
      ),
    });
    expect(errorOf('upstreams:\n  - type: mpc\n    url: x\n  - type: edge\n    url: x\n', {}, S).problems).toEqual([
      'hub.yaml:2:5: key "upstreams[0].type": expected one of "mcp", "edge"',
      'hub.yaml:4:5: key "upstreams[1].node": missing required key (expected string)',
      'hub.yaml:5:5: key "upstreams[1].url": unknown key "url" (expected one of: type, node)',
    ]);
  });

  it('quotes keys that are not identifiers', () => {
    const S = z.strictObject({ labels: z.record(z.string(), z.string()) });
    expect(errorOf('labels:\n  "rack.position": 3\n', {}, S).message).toBe(
      'hub.yaml:2:3: key "labels[\'rack.position\']": expected string, got number',
    );
    expect(formatKeyPath(['nodes', 1, 'token'])).toBe('nodes[1].token');
    expect(formatKeyPath(['a b', 'c'])).toBe("['a b'].c");
  });
});

describe('parseConfigText: YAML syntax and empty files', () => {
  it('names file, line and column of a syntax error', () => {
    const err = errorOf('listen:\n  port: 8765\nnodes: [pi, nas\n');
    expect(err.reason).toBe('syntax');
    expect(err.message).toMatch(/^hub\.yaml:4:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a \]/);
  });

  it('rejects a duplicated key with its line', () => {
    expect(errorOf('listen: {port: 1}\nlisten: {port: 2}\n').message).toBe('hub.yaml:2:1: invalid YAML: Map keys must be unique');
  });

  it('rejects custom tags instead of silently using their text', () => {
    expect(errorOf('listen: {port: 1}\nnodes:\n  - name: pi\n    token: !secret pi_token\n').message).toBe(
      'hub.yaml:4:12: unsupported YAML tag (custom tags such as !secret are not supported; use ${VAR} for secrets)',
    );
  });

  it('refuses a file that expands aliases without bound', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const [n, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd']]) {
      lines.push(`${n}: &${n} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const err = errorOf(lines.join('\n') + '\n');
    expect(err.reason).toBe('syntax');
    expect(err.message).toBe('hub.yaml: invalid YAML: Excessive alias count indicates a resource exhaustion attack');
  });

  it.each([[''], ['# nothing here\n'], ['---\n'], ['\n\n']])('calls %j empty', (text) => {
    const err = errorOf(text);
    expect(err.message).toBe('hub.yaml: is empty');
    expect(err.reason).toBe('empty');
  });
});

describe('parseConfigText: ${VAR} substitution', () => {
  const text = 'listen: {port: 8765}\nnodes:\n  - name: nas\n  - name: pi\n    token: ${EDGE_TOKEN_PI}\n';

  it('substitutes variables in string values', () => {
    const cfg = parseConfigText(text, 'hub.yaml', Hub, { env: { EDGE_TOKEN_PI: 's3cret' } });
    expect(cfg.nodes[1]?.token).toBe('s3cret');
  });

  it('names file, line, key path and variable when one is not set', () => {
    const err = errorOf(text, {});
    expect(err.message).toBe('hub.yaml:5:5: key "nodes[1].token": environment variable EDGE_TOKEN_PI is not set');
    expect(err.reason).toBe('env');
  });

  it('reports every missing variable', () => {
    const err = errorOf('listen: {port: 1}\nnodes:\n  - {name: "${A}-${B}", url: "${C:-http://x}"}\n', {});
    expect(err.problems).toEqual([
      'hub.yaml:3:6: key "nodes[0].name": environment variable A is not set',
      'hub.yaml:3:6: key "nodes[0].name": environment variable B is not set',
    ]);
  });

  it('uses ${VAR:-default} when unset or empty, and keeps surrounding text', () => {
    const S = z.strictObject({ a: z.string(), b: z.string(), c: z.string(), d: z.string() });
    const out = parseConfigText(
      'a: ${X:-fallback}\nb: ${Y:-fallback}\nc: ${Z:-}\nd: "http://${HOST}:${PORT:-8222}/mcp"\n',
      'f.yaml',
      S,
      { env: { Y: '', HOST: 'pi.lan' } },
    );
    expect(out).toEqual({ a: 'fallback', b: 'fallback', c: '', d: 'http://pi.lan:8222/mcp' });
  });

  it('treats $${ as a literal ${ and leaves other dollars alone', () => {
    const S = z.strictObject({ a: z.string(), b: z.string() });
    const out = parseConfigText('a: "$${HOME} is literal"\nb: "cost: $5, $$ and $HOME"\n', 'f.yaml', S, { env: { HOME: '/root' } });
    expect(out).toEqual({ a: '${HOME} is literal', b: 'cost: $5, $$ and $HOME' });
  });

  it('substitutes inside lists and nested mappings but not in keys', () => {
    const S = z.strictObject({ m: z.record(z.string(), z.array(z.string())) });
    const out = parseConfigText('m:\n  ${K}: ["${V}", plain]\n', 'f.yaml', S, { env: { K: 'k', V: 'v' } });
    expect(out).toEqual({ m: { '${K}': ['v', 'plain'] } });
  });

  it('cannot change the structure with a secret that contains YAML', () => {
    const evil = 'x\nadmin: true\nnodes: [{name: evil}]';
    const cfg = parseConfigText(text, 'hub.yaml', Hub, { env: { EDGE_TOKEN_PI: evil } });
    expect(cfg.nodes).toHaveLength(2);
    expect(cfg.nodes[1]?.token).toBe(evil);
  });

  it('never puts a substituted value in an error message', () => {
    const secret = 'hunter2-VERY-SECRET';
    const S = z.strictObject({
      port: z.number(),
      mode: z.enum(['a', 'b']),
      token: z.string().min(64),
      url: z.url(),
      re: z.string().regex(/^x/),
    });
    const err = errorOf('port: ${S}\nmode: ${S}\ntoken: ${S}\nurl: ${S}\nre: ${S}\n', { S: secret }, S);
    expect(err.problems).toEqual([
      'hub.yaml:1:1: key "port": expected number, got string',
      'hub.yaml:2:1: key "mode": expected one of "a", "b"',
      'hub.yaml:3:1: key "token": expected at least 64 characters',
      'hub.yaml:4:1: key "url": expected a URL',
      'hub.yaml:5:1: key "re": expected a string matching /^x/',
    ]);
    expect(JSON.stringify({ m: err.message, c: String(err.cause) })).not.toContain('hunter2');
  });

  it('rejects malformed references and nested defaults', () => {
    const S = z.strictObject({ a: z.string(), b: z.string(), c: z.string() });
    expect(errorOf('a: ${NOT VALID}\nb: ${UNCLOSED\nc: ${A:-${B}}\n', {}, S).problems).toEqual([
      'hub.yaml:1:1: key "a": malformed "${...}" reference (write ${NAME}, ${NAME:-default} or ${file:PATH}, or "$${" for a literal "${")',
      'hub.yaml:2:1: key "b": malformed "${...}" reference (write ${NAME}, ${NAME:-default} or ${file:PATH}, or "$${" for a literal "${")',
      'hub.yaml:3:1: key "c": nested "${...}" in the default of A is not supported',
    ]);
  });
});

describe('unset variables and structural errors', () => {
  it('reports structural errors even when variables are unset, the unset ones after', () => {
    const S = z.strictObject({ port: z.number(), token: z.string().min(16), url: z.url() });
    expect(errorOf('port: x\ntoken: ${TOKEN}\nurl: ${URL}\nextra: 1\n', {}, S).problems).toEqual([
      'hub.yaml:1:1: key "port": expected number, got string',
      'hub.yaml:4:1: key "extra": unknown key "extra" (expected one of: port, token, url)',
      'hub.yaml:2:1: key "token": environment variable TOKEN is not set',
      'hub.yaml:3:1: key "url": environment variable URL is not set',
    ]);
    expect(errorOf('port: 1\ntoken: ${TOKEN}\nurl: http://x\n', {}, S).reason).toBe('env');
  });

  it('lets a caller settle unresolved references (a reload keeps the running entry)', () => {
    const S = z.strictObject({ nodes: z.array(z.strictObject({ name: z.string(), token: z.string().min(16) })) });
    const seen: string[] = [];
    const cfg = parseConfigText('nodes:\n  - {name: a, token: "${A_TOKEN}"}\n  - {name: b, token: "${B_TOKEN}"}\n', 'hub.yaml', S, {
      env: { B_TOKEN: 'b'.repeat(16) },
      settleUnresolved: (data, refs) => {
        for (const r of refs) seen.push(`${String(r.keyPath.join('.'))} ${r.name}`);
        (data as { nodes: unknown[] }).nodes[0] = { name: 'a', token: 'old-a-token-0123456789' };
        return [];
      },
    });
    expect(seen).toEqual(['nodes.0.token A_TOKEN']);
    expect(cfg.nodes).toEqual([{ name: 'a', token: 'old-a-token-0123456789' }, { name: 'b', token: 'b'.repeat(16) }]);
  });
});

describe('${file:PATH} secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const S = z.strictObject({ token: z.string() });

  it('reads a file relative to the config file, without its trailing newline', () => {
    writeFileSync(join(dir, 'pi.token'), 's3cret-file-token\n', { mode: 0o600 });
    chmodSync(join(dir, 'pi.token'), 0o600);
    expect(parseConfigText('token: "${file:pi.token}"\n', join(dir, 'hub.yaml'), S).token).toBe('s3cret-file-token');
  });

  it('refuses a world-readable file, warns about a group-readable one, and never shows the content', () => {
    const f = join(dir, 'open.token');
    writeFileSync(f, 's3cret-file-token\n');
    chmodSync(f, 0o644);
    const err = errorOf(`token: "\${file:${f}}"\n`, {}, S);
    expect(err.problems).toEqual([`hub.yaml:1:1: key "token": secret file ${f} is readable by every user (mode 0644); refused: chmod 600 ${f}`]);
    expect(err.message).not.toContain('s3cret');
    chmodSync(f, 0o640);
    const warnings: string[] = [];
    expect(parseConfigText(`token: "\${file:${f}}"\n`, 'hub.yaml', S, { onWarning: (w) => warnings.push(w) }).token).toBe('s3cret-file-token');
    expect(warnings).toEqual([`hub.yaml: key "token": secret file ${f} is readable by its group (mode 0640); chmod 600 ${f} unless the group is the hub's alone`]);
  });

  it('names a missing file', () => {
    expect(errorOf('token: "${file:/nonexistent/x.token}"\n', {}, S).problems).toEqual(['hub.yaml:1:1: key "token": cannot read secret file /nonexistent/x.token: no such file']);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'homelab-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and validates a file on disk', () => {
    const file = join(dir, 'hub.yaml');
    writeFileSync(file, 'listen:\n  host: ${HUB_HOST}\n  port: 8765\n');
    expect(loadConfigFile(file, Hub, { env: { HUB_HOST: '0.0.0.0' } }).listen).toEqual({ host: '0.0.0.0', port: 8765 });
  });

  it('substitutes strings only: a number from the environment needs z.coerce in the schema', () => {
    const file = join(dir, 'port.yaml');
    writeFileSync(file, 'listen:\n  port: ${PORT:-8765}\n');
    expect(() => loadConfigFile(file, Hub, { env: {} })).toThrow('key "listen.port": expected number, got string');
    const Coerced = z.strictObject({ listen: z.strictObject({ port: z.coerce.number().int() }) });
    expect(loadConfigFile(file, Coerced, { env: {} }).listen.port).toBe(8765);
  });

  it('names a missing file', () => {
    const file = join(dir, 'missing.yaml');
    let err: unknown;
    try {
      loadConfigFile(file, Hub, { env: {} });
    } catch (e) {
      err = e;
    }
    expect(isConfigError(err, 'unreadable')).toBe(true);
    expect((err as Error).message).toBe(`${file}: cannot read: no such file`);
  });

  it('uses the path as given in messages', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'listen:\n  prot: 1\n');
    expect(() => loadConfigFile(file, Hub, { env: {} })).toThrow(
      `${file}:2:3: key "listen.prot": unknown key "prot", did you mean "port"? (expected one of: host, port)`,
    );
  });
});

describe('formatZodIssues', () => {
  it('works without a source (no line numbers) for values from elsewhere', () => {
    const S = z.strictObject({ roots: z.array(z.string()) });
    const data = { roots: ['/srv', 3], extra: 1 };
    const r = S.safeParse(data);
    expect(r.success).toBe(false);
    expect(formatZodIssues(r.error!.issues, '--config', { data, schema: S })).toEqual([
      '--config: key "roots[1]": expected string, got number',
      '--config: key "extra": unknown key "extra" (expected one of: roots)',
    ]);
  });
});

describe('ConfigError', () => {
  it('is a HomelabError with the problems joined as its message', () => {
    const e = new ConfigError('x.yaml', 'invalid', ['a', 'b']);
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe('a\nb');
    expect(isConfigError(e, 'invalid')).toBe(true);
    expect(isConfigError(e, 'env')).toBe(false);
    expect(isConfigError(new Error('x'))).toBe(false);
  });
});
