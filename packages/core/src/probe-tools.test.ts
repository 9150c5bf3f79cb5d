import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHomelabError } from './errors.ts';
import { checkProbeArgs, PROBE_TOOL_DEFS, runProbeTool } from './probe-tools.ts';

const server = createServer((s) => s.resume().end());
let port: number;
beforeAll(async () => {
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((res) => server.close(() => res())));

describe('probe tools', () => {
  it('declares three read-only, open-world tools whose arguments are the issue\'s', () => {
    expect(PROBE_TOOL_DEFS.map((d) => [d.name, Object.keys(d.inputSchema.properties), d.inputSchema.required])).toEqual([
      ['check_port', ['host', 'port', 'timeout_s'], ['host', 'port']],
      ['ping_host', ['host', 'count', 'timeout_s'], ['host']],
      ['probe_http', ['url', 'expected_status', 'timeout_s'], ['url']],
    ]);
    for (const d of PROBE_TOOL_DEFS) expect(d.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: true });
  });

  it('names the argument that is wrong', () => {
    const cases: Array<[Parameters<typeof checkProbeArgs>[0], Record<string, unknown>, RegExp]> = [
      ['check_port', { host: '127.0.0.1' }, /^port: is required$/],
      ['check_port', { host: '127.0.0.1', port: 0 }, /^port must be an integer from 1 to 65535, got 0$/],
      ['check_port', { host: '127.0.0.1', port: 22, timeout_s: 600 }, /^timeout_s must be a number of seconds from 0.1 to 60, got 600$/],
      ['check_port', { host: '127.0.0.1', port: 22, node: 'x' }, /^node: is not a known argument of check_port \(known: host, port, timeout_s\)$/],
      ['ping_host', { host: '127.0.0.1', count: 100 }, /^count must be an integer from 1 to 20, got 100$/],
      ['ping_host', { host: '' }, /^host must be a host name or IP address/],
      ['probe_http', { url: 'gopher://x/' }, /^url must use http or https, not gopher$/],
      ['probe_http', { url: 'http://x/', expected_status: 700 }, /^expected_status must be an HTTP status code from 100 to 599, got 700$/],
    ];
    for (const [name, args, msg] of cases) {
      let err: unknown;
      try {
        checkProbeArgs(name, args);
      } catch (e) {
        err = e;
      }
      expect(isHomelabError(err, 'INVALID_ARGUMENTS'), `${name} ${JSON.stringify(args)}`).toBe(true);
      expect((err as Error).message).toMatch(msg);
    }
  });

  it('gives the longest a probe may take, for a caller forwarding it', () => {
    expect(checkProbeArgs('check_port', { host: 'a', port: 1 })).toEqual({ timeoutMs: 5000 });
    expect(checkProbeArgs('probe_http', { url: 'http://a/', timeout_s: 2.5 })).toEqual({ timeoutMs: 2500 });
    expect(checkProbeArgs('ping_host', { host: 'a', count: 5 })).toEqual({ timeoutMs: 14_000 });
  });

  it('answers with the structured result and one line of text', async () => {
    const r = await runProbeTool('check_port', { host: '127.0.0.1', port, timeout_s: 2 });
    expect(r.data).toMatchObject({ host: '127.0.0.1', port, open: true });
    expect(r.text).toMatch(new RegExp(`^127\\.0\\.0\\.1:${port} is open`));
  });
});
