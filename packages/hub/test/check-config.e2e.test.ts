/**
 * `homelab-hub check-config FILE` as a user runs it (the real bundle): names that clash,
 * URLs the hub cannot speak to, names too long for the catalog, and secret files, each named
 * with file, line and key; structural errors come first even when variables are unset.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { HUB_BUNDLE } from '@homelab-mcp/testkit';

const dir = mkdtempSync(join(tmpdir(), 'homelab-check-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function checkConfig(name: string, text: string): Promise<{ code: number; out: string; err: string }> {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [HUB_BUNDLE, 'check-config', file], { env: { PATH: process.env.PATH ?? '' } });
    return { code: 0, out: stdout, err: stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

describe('check-config', () => {
  it('refuses duplicate node names, a node named like the local node and non-HTTP(S) URLs, and lists unset variables after', async () => {
    const f = join(dir, 'clash.yaml');
    const r = await checkConfig(
      'clash.yaml',
      [
        'nodes:',
        '  - name: pi',
        '    url: http://127.0.0.1:8222/mcp',
        '    token: ${PI_TOKEN}',
        '  - name: pi',
        '    url: ftp://127.0.0.1/mcp',
        '  - name: local',
        '    url: http://127.0.0.1:8223/mcp',
        'upstreams:',
        '  ha:',
        '    url: ${HA_URL}',
        '    headers: {Authorization: "Bearer ${HA_TOKEN}"}',
        'logLevel: loud',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(1);
    expect(r.err.trimEnd().split('\n')).toEqual([
      `${f}:6:5: key "nodes[1].url": expected an http:// or https:// URL`,
      `${f}:13:1: key "logLevel": expected one of "debug", "info", "warn", "error"`,
      `${f}:5:5: key "nodes[1].name": "pi" is already the name of nodes[0]; node names must be unique`,
      `${f}:7:5: key "nodes[2].name": "local" is the name of the hub's own node (local.name); rename this node, or set local.name or local.enabled: false`,
      `${f}:4:5: key "nodes[0].token": environment variable PI_TOKEN is not set`,
      `${f}:11:5: key "upstreams.ha.url": environment variable HA_URL is not set`,
      `${f}:12:15: key "upstreams.ha.headers.Authorization": environment variable HA_TOKEN is not set`,
    ]);
  });

  it('names file, line, key and what was expected in each homelab-service integration', async () => {
    const f = join(dir, 'integrations.yaml');
    const r = await checkConfig(
      'integrations.yaml',
      [
        'integrations:',
        '  proxmox:',
        '    url: https://pve.lan:8006',
        '    tokenId: root@pam=mcp',
        '    token: x',
        '    fingerprint: "AB:CD"',
        '  pbs: { url: "https://pbs.lan:8007", tokenId: "homelab@pbs!mcp", token: "x", staleDays: 0 }',
        '  pihole:',
        '    instances:',
        '      - { name: ns1, url: "http://ns1.lan", password: "p" }',
        '      - { name: ns1, url: "ns2.lan", password: "p" }',
        '  caddy: { url: "http://proxy.lan:2019", instances: [{ name: a, url: "http://a.lan:2019" }] }',
        '  semaphore: { url: "http://semaphore.lan:3000", token: "short", insecureTls: true, caFile: ca.pem }',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(1);
    const lines = r.err.trimEnd().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        `${f}:4:5: key "integrations.proxmox.tokenId": USER@REALM!TOKENID, e.g. homelab@pve!mcp`,
        expect.stringMatching(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:5: key "integrations\\.proxmox\\.fingerprint": a SHA-256 certificate fingerprint`)),
        expect.stringMatching(/:7:\d+: key "integrations\.pbs\.staleDays": /),
        expect.stringMatching(/:11:\d+: key "integrations\.pihole\.instances\[1\]\.url": an http\(s\) URL of the Pi-hole web interface/),
        expect.stringMatching(/:11:\d+: key "integrations\.pihole\.instances\[1\]\.name": "ns1" is already the name of another instance/),
        expect.stringMatching(/:12:\d+: key "integrations\.caddy\.url": set url \(one Caddy\) or instances \(several\), not both and not neither/),
        expect.stringMatching(/:13:\d+: key "integrations\.semaphore\.token": a Semaphore API token/),
      ]),
    );
  });

  it('says what is wrong with each drift ignorePorts entry, and takes a port written as a string', async () => {
    const f = join(dir, 'ports.yaml');
    const r = await checkConfig('ports.yaml', 'topology:\n  drift: { ignorePorts: ["70000", "9-3", "abc", "8080", "9000-9100"], nodes: { nas: { ignorePorts: ["0"] } } }\n');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      [
        `${f}:2:26: key "topology.drift.ignorePorts[0]": "70000": a port is from 1 to 65535`,
        `${f}:2:35: key "topology.drift.ignorePorts[1]": "9-3": a range goes from the lower port to the higher ("3-9")`,
        `${f}:2:42: key "topology.drift.ignorePorts[2]": "abc" is not a port or a range; expected a port from 1 to 65535 or a range "FROM-TO" such as "8000-8100"`,
        `${f}:2:101: key "topology.drift.nodes.nas.ignorePorts[0]": "0": a port is from 1 to 65535`,
        '',
      ].join('\n'),
    );
    expect((await checkConfig('ports-ok.yaml', 'topology:\n  drift: { ignorePorts: ["8080", 9090, "9000-9100"] }\n')).code).toBe(0);
  });

  it('warns about a topology.drift.nodes entry that names no node (a typo would hide nothing, silently)', async () => {
    const f = join(dir, 'drift-typo.yaml');
    const r = await checkConfig('drift-typo.yaml', 'nodes:\n  - { name: nas, url: "http://127.0.0.1:8222/mcp", token: "nas-token-0123456789abcdef" }\ntopology:\n  drift: { nodes: { nsa: { ignorePorts: [5000] }, nas: { ignorePorts: [5001] } } }\n');
    expect(r.code).toBe(0);
    expect(r.err).toBe(`warning: ${f}: key "topology.drift.nodes.nsa": no node is named "nsa" (nodes: local, nas); its ignorePorts hide nothing\n`);
  });

  it('warns about notify: without internet.ntfy (it could send nothing), and not with it', async () => {
    const f = join(dir, 'notify-alone.yaml');
    const r = await checkConfig('notify-alone.yaml', 'notify: { on: [node_down] }\n');
    expect(r.code).toBe(0);
    expect(r.err).toBe(`warning: ${f}: key "notify": no notice can be sent without internet.ntfy ({ url, topic, token }); notify: does nothing until it is set\n`);
    const ok = await checkConfig('notify-ntfy.yaml', 'notify: { on: [node_down] }\ninternet: { ntfy: { url: "http://127.0.0.1:9/", topic: homelab } }\n');
    expect(ok.err).toBe('');
  });

  it('refuses a tokenFile holding fewer than 16 characters, as it refuses such a token:, without printing it', async () => {
    writeFileSync(join(dir, 'short.token'), 'hunter2\n', { mode: 0o600 });
    chmodSync(join(dir, 'short.token'), 0o600);
    const f = join(dir, 'short.yaml');
    const r = await checkConfig('short.yaml', 'nodes:\n  - { name: pi, url: "http://127.0.0.1:8222/mcp", tokenFile: short.token }\n');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${f}: key "nodes[0].tokenFile": secret file ${join(dir, 'short.token')} holds 7 characters; a node's token has at least 16\n`);
    expect(r.err + r.out).not.toContain('hunter2');
  });

  it('refuses a node named "all", which `node: all` could never name alone (a write meant for it would run everywhere)', async () => {
    const f = join(dir, 'all.yaml');
    const r = await checkConfig('all.yaml', 'nodes:\n  - { name: all, url: "http://127.0.0.1:8222/mcp", token: "all-token-0123456789abcdef" }\n');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${f}:2:7: key "nodes[0].name": "all" selects every node (node: all); give this node another name\n`);
    const l = join(dir, 'local-all.yaml');
    expect((await checkConfig('local-all.yaml', 'local: { name: all }\n')).err).toBe(`${l}:1:10: key "local.name": "all" selects every node (node: all); give this node another name\n`);
  });

  it('refuses, with perDeviceTools, an upstream alias that is also a node name: one set of <name>__<tool> tools would shadow the other', async () => {
    const f = join(dir, 'shadow.yaml');
    const r = await checkConfig('shadow.yaml', 'perDeviceTools: true\nnodes:\n  - { name: nas, url: "http://127.0.0.1:8222/mcp", token: "nas-token-0123456789abcdef" }\nupstreams:\n  nas: { url: "http://127.0.0.1:8223/mcp" }\n  local: { url: "http://127.0.0.1:8224/mcp" }\n');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `${f}:5:3: key "upstreams.nas": alias "nas" is also the name of a node, whose tools are named nas__<tool> too (perDeviceTools); rename one of them\n` +
        `${f}:6:3: key "upstreams.local": alias "local" is also the name of a node, whose tools are named local__<tool> too (perDeviceTools); rename one of them\n`,
    );
    // Without per-device copies, nothing clashes.
    expect((await checkConfig('no-shadow.yaml', 'nodes:\n  - { name: nas, url: "http://127.0.0.1:8222/mcp", token: "nas-token-0123456789abcdef" }\nupstreams:\n  nas: { url: "http://127.0.0.1:8223/mcp" }\n')).code).toBe(0);
  });

  it('refuses an alias too long for limits.maxToolName: the catalog could not name its tools', async () => {
    const f = join(dir, 'long.yaml');
    const r = await checkConfig('long.yaml', 'limits: {maxToolName: 20}\nupstreams:\n  homeassistant:\n    url: http://127.0.0.1:8123/api/mcp\n');
    expect(r).toMatchObject({ code: 1, err: `${f}:3:3: key "upstreams.homeassistant": alias "homeassistant" is too long for limits.maxToolName 20 (at most 10 characters, so that its tools can be named)\n` });
  });

  it('refuses prefix: false on another hub, whose approve_writes would meet this hub\'s; takes it elsewhere, where the alias needs no room', async () => {
    const f = join(dir, 'unprefixed.yaml');
    const hubUp = await checkConfig('unprefixed.yaml', 'upstreams:\n  site2:\n    type: hub\n    url: http://127.0.0.1:8766/mcp\n    prefix: false\n');
    expect(hubUp).toMatchObject({ code: 1, err: `${f}:5:5: key "upstreams.site2.prefix": upstream "site2" is another hub (type: hub), whose tools approve_writes, revoke_writes, list_nodes, ... are also this hub's own; keep its prefix (remove prefix: false)\n` });
    const ok = await checkConfig('unprefixed-ok.yaml', 'limits: {maxToolName: 20}\nupstreams:\n  homeassistant:\n    url: http://127.0.0.1:8123/api/mcp\n    prefix: false\n');
    expect(ok).toMatchObject({ code: 0, err: '' });
  });

  it('reads tokenFile and ${file:...} secrets: refuses a world-readable file, warns about a group-readable one, never prints the secret', async () => {
    const token = join(dir, 'pi.token');
    const header = join(dir, 'ha.secret');
    writeFileSync(token, 'pi-secret-token-0123456789\n');
    writeFileSync(header, 'ha-secret-header\n');
    chmodSync(token, 0o600);
    chmodSync(header, 0o600);
    const text = 'nodes:\n  - {name: pi, url: "http://127.0.0.1:8222/mcp", tokenFile: pi.token}\nupstreams:\n  ha: {url: "http://127.0.0.1:8123/api/mcp", headers: {Authorization: "Bearer ${file:ha.secret}"}}\n';
    expect(await checkConfig('secrets.yaml', text)).toEqual({ code: 0, out: `${join(dir, 'secrets.yaml')}: ok\n`, err: '' });

    chmodSync(token, 0o644);
    chmodSync(header, 0o604);
    let r = await checkConfig('secrets.yaml', text);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${join(dir, 'secrets.yaml')}:4:56: key "upstreams.ha.headers.Authorization": secret file ${header} is readable by every user (mode 0604); refused: chmod 600 ${header}\n`);
    chmodSync(header, 0o600);
    r = await checkConfig('secrets.yaml', text);
    expect(r.err).toBe(`${join(dir, 'secrets.yaml')}: key "nodes[0].tokenFile": secret file ${token} is readable by every user (mode 0644); refused: chmod 600 ${token}\n`);

    chmodSync(token, 0o640);
    r = await checkConfig('secrets.yaml', text);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`warning: ${join(dir, 'secrets.yaml')}: key "nodes[0].tokenFile": secret file ${token} is readable by its group (mode 0640); chmod 600 ${token} unless the group is the hub's alone\n`);
    expect(r.out + r.err).not.toMatch(/secret-token|secret-header/);
  });

  it('names the file, line, key and what was expected for the n8n, NetBox and Graylog integrations', async () => {
    const f = join(dir, 'apps.yaml');
    const r = await checkConfig(
      'apps.yaml',
      [
        'integrations:',
        '  n8n:',
        '    url: n8n.lan:5678',
        '  netbox:',
        '    url: https://netbox.lan',
        '    token: "Token 0123456789abcdef0123456789abcdef01234567"',
        '  graylog:',
        '    url: https://graylog.lan:9000',
        '    token: ${GRAYLOG_TOKEN}',
        '    password: token',
        '    insecureTls: true',
        '    fingerprint: "AB:CD"',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(1);
    expect(r.err.trimEnd().split('\n')).toEqual([
      `${f}:3:5: key "integrations.n8n.url": an http(s) URL, e.g. http://n8n.lan:5678`,
      `${f}:2:3: key "integrations.n8n.apiKey": missing required key (expected string)`,
      `${f}:6:5: key "integrations.netbox.token": the API token: nbt_<key>.<token> (v2) or 40 hex digits (v1), no spaces and no "Token "/"Bearer " in front`,
      `${f}:12:5: key "integrations.graylog.fingerprint": a SHA-256 certificate fingerprint: 64 hex digits, colons allowed (openssl x509 -noout -fingerprint -sha256)`,
      `${f}:10:5: key "integrations.graylog.password": unknown key "password" (expected one of: url, token, caFile, fingerprint, insecureTls, timeoutMs)`,
      `${f}:11:5: key "integrations.graylog.insecureTls": set one of caFile, fingerprint and insecureTls, not fingerprint and insecureTls`,
      `${f}:9:5: key "integrations.graylog.token": environment variable GRAYLOG_TOKEN is not set`,
    ]);
    // The token NetBox would have got is not printed back.
    expect(r.out + r.err).not.toContain('0123456789abcdef0123456789abcdef01234567');
  });
});
