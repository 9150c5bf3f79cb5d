import { describe, expect, it } from 'vitest';
import { createLogger, isSecretKey, LOG_LEVELS, REDACTED, redactSecrets, type LogLevel } from './log.ts';

const SECRET = 'tok_9f8e7d6c5b4a';

/** A logger writing into an array of parsed JSON lines, plus the raw text. */
function capture(level: LogLevel = 'info') {
  const raw: string[] = [];
  const log = createLogger({ level, name: 'hub', destination: { write: (s: string) => void raw.push(s) } });
  const lines = () => raw.map((s) => JSON.parse(s) as Record<string, unknown>);
  const text = () => raw.join('');
  return { log, lines, text, raw };
}

describe('createLogger', () => {
  it('writes one JSON object per line with name, level word, ISO time and message', () => {
    const { log, raw, lines } = capture();
    log.info({ tool: 'run_command', node: 'pi' }, 'call');
    expect(raw).toHaveLength(1);
    expect(raw[0]!.endsWith('\n')).toBe(true);
    expect(raw[0]!.trimEnd()).not.toContain('\n');
    const [line] = lines();
    expect(line).toMatchObject({ level: 'info', name: 'hub', tool: 'run_command', node: 'pi', msg: 'call' });
    expect(new Date(line!.time as string).toISOString()).toBe(line!.time);
  });

  it('filters by level', () => {
    const { log, lines } = capture('warn');
    log.info('hidden');
    log.debug('hidden');
    log.warn('shown');
    log.error('shown too');
    expect(lines().map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'shown'],
      ['error', 'shown too'],
    ]);
    expect(LOG_LEVELS).toContain('silent');
  });

  it('child loggers carry their bindings and keep redacting', () => {
    const { log, lines, text } = capture();
    const edge = log.child({ edge: 'pi', token: SECRET });
    const cap = edge.child({ capability: 'commands' });
    cap.info({ args: { command: 'uptime', apiKey: SECRET } }, 'run');
    expect(lines()[0]).toMatchObject({
      name: 'hub',
      edge: 'pi',
      capability: 'commands',
      token: REDACTED,
      args: { command: 'uptime', apiKey: REDACTED },
    });
    expect(text()).not.toContain(SECRET);
  });

  it('never prints a token, whatever the shape it is logged in', () => {
    const { log, text, lines } = capture('trace');
    log.info({ token: SECRET }, 'top level');
    log.info({ headers: { authorization: `Bearer ${SECRET}`, Authorization: `Bearer ${SECRET}` } }, 'headers');
    log.info({ req: { headers: { 'proxy-authorization': SECRET, cookie: SECRET, 'x-api-key': SECRET } } }, 'req');
    log.info({ res: { headers: { 'set-cookie': [`s=${SECRET}`] } } }, 'res');
    log.info({ config: { nodes: [{ name: 'pi', token: SECRET }, { name: 'nas', edgeToken: SECRET }] } }, 'list');
    log.info({ a: { b: { c: { d: { e: { f: { password: SECRET, client_secret: SECRET } } } } } } }, 'deep');
    log.info({ upstream: { ha: { accessToken: SECRET, refresh_token: SECRET, haToken: SECRET } } }, 'names');
    log.debug({ login: { user: 'admin', passwd: SECRET, privateKey: SECRET, credentials: { u: 'x', p: SECRET } } }, 'misc');
    const err = Object.assign(new Error('upstream 401'), { config: { headers: { Authorization: `Bearer ${SECRET}` } } });
    log.error({ err }, 'error with request config');
    log.error(err, 'error as first argument');
    const cyclic: Record<string, unknown> = { secret: SECRET };
    cyclic.self = cyclic;
    log.warn({ cyclic }, 'cycle');
    expect(lines()).toHaveLength(11);
    expect(text()).not.toContain(SECRET);
    expect(text().split(REDACTED).length - 1).toBeGreaterThanOrEqual(20);
  });

  it('keeps values that only look related to secrets', () => {
    const { log, lines } = capture();
    log.info({ maxTokens: 4096, tokenEnv: 'EDGE_TOKEN_PI', tokens: 3, auth: 'bearer', token: null }, 'not secrets');
    expect(lines()[0]).toMatchObject({ maxTokens: 4096, tokenEnv: 'EDGE_TOKEN_PI', tokens: 3, auth: 'bearer', token: null });
  });

  it('does not modify the logged object', () => {
    const { log } = capture();
    const obj = { headers: { authorization: SECRET }, list: [{ token: SECRET }] };
    log.info(obj, 'x');
    expect(obj).toEqual({ headers: { authorization: SECRET }, list: [{ token: SECRET }] });
  });

  it('prints errors as type, message (with causes), stack and own fields, redacted', () => {
    const { log, lines, text } = capture();
    const cause = Object.assign(new Error('ECONNREFUSED'), { headers: { authorization: SECRET } });
    const err = Object.assign(new TypeError('upstream failed', { cause }), { code: 'E_UP', config: { token: SECRET } });
    log.error({ err }, 'failed');
    log.error(err, 'failed again');
    log.warn({ result: { node: 'pi', error: err } }, 'nested');
    for (const e of [lines()[0]!.err, lines()[1]!.err, (lines()[2]!.result as { error: unknown }).error]) {
      expect(e).toMatchObject({
        type: 'TypeError',
        message: 'upstream failed: ECONNREFUSED',
        code: 'E_UP',
        config: { token: REDACTED },
      });
      expect((e as { stack: string }).stack).toContain('log.test.ts');
    }
    expect(text()).not.toContain(SECRET);
  });

  it('redacts bindings of grandchildren and setBindings', () => {
    const { log, lines, text } = capture();
    const grandchild = log.child({ edge: 'pi' }).child({ upstream: { url: 'http://pi:8222/mcp', bearerToken: SECRET } });
    grandchild.setBindings({ password: SECRET });
    grandchild.info('hello');
    expect(lines()[0]).toMatchObject({ edge: 'pi', upstream: { url: 'http://pi:8222/mcp', bearerToken: REDACTED }, password: REDACTED });
    expect(text()).not.toContain(SECRET);
  });
});

describe('redactSecrets / isSecretKey', () => {
  it('shares untouched branches and copies only the redacted path', () => {
    const safe = { node: 'pi' };
    const input = { safe, args: { token: SECRET } };
    const out = redactSecrets(input);
    expect(out).toEqual({ safe: { node: 'pi' }, args: { token: REDACTED } });
    expect(out.safe).toBe(safe);
    expect(redactSecrets(safe)).toBe(safe);
  });

  it('truncates absurdly deep objects rather than risk printing them', () => {
    let deep: Record<string, unknown> = { token: SECRET };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    expect(JSON.stringify(redactSecrets(deep))).not.toContain(SECRET);
  });

  it.each([
    ['token', true],
    ['Authorization', true],
    ['x-api-key', true],
    ['API_KEY', true],
    ['clientSecret', true],
    ['set-cookie', true],
    ['bearerToken', true],
    ['DB_PASS', true],
    ['MYSQL_PWD', true],
    ['AWS_SECRET_ACCESS_KEY', true],
    ['STRIPE_KEY', true],
    ['GITHUB_PAT', true],
    ['BORG_PASSPHRASE', true],
    ['TS_AUTHKEY', true],
    ['WG_PRIVKEY', true],
    ['ROOT_PW', true],
    ['secretKey', true],
    ['public_key', false],
    ['sort_key', false],
    ['key', false],
    ['compass', false],
    ['bypass', false],
    ['PWD', false],
    ['OLDPWD', false],
    ['path', false],
    ['maxTokens', false],
    ['tokenEnv', false],
    ['node', false],
  ])('%s is secret: %s', (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });
});
