/**
 * Attacks on the write gate, its previews and the audit record (issue #10, items 3, 8, 11 and
 * the surrogate of 15), each through the bundled hub and a real edge that runs the commands:
 * a command that must not have run touches a marker file that must not exist.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startEdgeProcess, startHubProcess, type EdgeProcess, type HubProcess } from '@homelab-mcp/testkit';

const SAM = 'sam-session-token-0123456789ab'; // session mode
const CORY = 'cory-confirm-token-0123456789a'; // confirm mode
const CARA = 'cara-confirm-token-0123456789a'; // confirm mode, another user
const HUGO = 'hugo-human-token-0123456789abc'; // human mode
const IDA = 'ida-idle-token-0123456789abcde'; // session mode on the hub with a short idle time
const VIC = 'vic-viewer-token-0123456789abc'; // viewer
const MODERN = '2026-07-28';

const dir = mkdtempSync(join(tmpdir(), 'gate-security-'));
let marker = 0;
const markerFile = () => join(dir, `ran-${++marker}`);
let edge: EdgeProcess;
let hub: HubProcess;
let idleHub: HubProcess;

beforeAll(async () => {
  edge = await startEdgeProcess();
  const nodes = [{ name: 'pi', url: edge.url, token: '${PI_TOKEN}' }];
  hub = await startHubProcess({
    config: {
      auth: {
        tokens: [
          { user: 'sam', role: 'operator', token: SAM },
          { user: 'cory', role: 'operator', token: CORY },
          { user: 'cara', role: 'operator', token: CARA },
          { user: 'hugo', role: 'admin', token: HUGO },
          { user: 'vic', role: 'viewer', token: VIC },
        ],
        rateLimit: { perMinute: 6000, burst: 1000 },
      },
      local: { enabled: false },
      nodes,
      approval: { mode: 'session', users: { cory: 'confirm', cara: 'confirm', hugo: 'human' } },
    },
    env: { PI_TOKEN: edge.token },
  });
  // 0.02 minutes = 1.2 s without calls: the approval must lapse after that.
  idleHub = await startHubProcess({
    config: { auth: { tokens: [{ user: 'ida', role: 'operator', token: IDA }] }, local: { enabled: false }, nodes, approval: { mode: 'session', idleMinutes: 0.02 } },
    env: { PI_TOKEN: edge.token },
  });
});
afterAll(async () => {
  await hub?.stop();
  await idleHub?.stop();
  await edge?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One raw 2026-07-28 tools/call (the SDK client would answer input_required by itself). */
async function rawCall(token: string, name: string, params: Record<string, unknown>, meta: Record<string, unknown> = {}): Promise<any> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: {
      name,
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
        'io.modelcontextprotocol/clientInfo': { name: 'gate-e2e', version: '1.0' },
        ...meta,
      },
    },
  });
  const res = await fetch(hub.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name },
    body,
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  const line = text.startsWith('{') ? text : text.split('\n').find((l) => l.startsWith('data:') && l.includes('"id":1'))!.slice(5);
  return JSON.parse(line).result;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const journalOf = (h: HubProcess) => readJournal(join(h.dir, 'data'));

describe('item 3: a preview shows the exact command, and the journal hides only the secret', () => {
  it('a PEM header or a PASSWORD=$(...) cannot hide the payload from the approver or the journal', async () => {
    await using client = await connectClient(hub.url, SAM, 'modern');
    const m1 = markerFile();
    const m2 = markerFile();
    const m3 = markerFile();
    const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj';
    const attacks = [
      `echo -----BEGIN PRIVATE KEY-----; touch ${m1}`,
      `PASSWORD="$(touch ${m2})"; echo done`,
      `printf '%s\\n' '-----BEGIN PRIVATE KEY-----' '${body}' '-----END PRIVATE KEY-----' > /dev/null; touch ${m3}`,
    ];
    for (const [i, cmd] of attacks.entries()) {
      const held = (await client.callTool({ name: 'run_command', arguments: { node: 'pi', cmd } })) as any;
      expect(held.structuredContent.status).toBe('approval_required');
      // The person sees exactly what will run: the payload, the key body, no [REDACTED].
      expect(held.structuredContent.preview.action).toBe(`run \`${cmd}\` on pi`);
      expect(held.structuredContent.preview.arguments).toEqual({ cmd });
      expect(resultText(held)).toContain(cmd);
      expect(resultText(held)).not.toContain('[REDACTED]');
      expect(existsSync([m1, m2, m3][i]!)).toBe(false);
    }
    await client.callTool({ name: 'approve_writes', arguments: {} });
    for (const cmd of attacks) expect(((await client.callTool({ name: 'run_command', arguments: { node: 'pi', cmd } })) as any).isError).toBeFalsy();
    expect([m1, m2, m3].map(existsSync)).toEqual([true, true, true]);

    // The journal: what ran is readable, only the key body is gone, and each event is bound
    // to the exact arguments by their SHA-256 (canonical JSON: keys sorted, no whitespace).
    const events = journalOf(hub).filter((e) => e.kind === 'tool_call' && e.decision === 'allowed');
    const ran = attacks.map((cmd) => events.find((e) => e.argsSha256 === sha256(JSON.stringify({ cmd, node: 'pi' })))!);
    expect(ran.every((e) => e?.tool === 'run_command' && e.user === 'sam')).toBe(true);
    expect(ran[0]!.args.cmd).toBe(attacks[0]);
    expect(ran[1]!.args.cmd).toBe(attacks[1]);
    expect(ran[2]!.args.cmd).toContain(`touch ${m3}`);
    expect(ran[2]!.args.cmd).not.toContain(body);
    expect(ran[2]!.args.cmd).toContain('[REDACTED]');
  });
});

describe('item 8: approvals', () => {
  it('a human approval (requestState) runs one call: the replay is denied and runs nothing', async () => {
    const m = markerFile();
    const args = { node: 'pi', cmd: `touch ${m}` };
    const asked = await rawCall(HUGO, 'run_command', { arguments: args });
    expect(asked.resultType).toBe('input_required');
    expect(typeof asked.requestState).toBe('string');
    const answer = { arguments: args, inputResponses: { approve: { action: 'accept', content: { approve: true } } }, requestState: asked.requestState };
    const first = await rawCall(HUGO, 'run_command', answer);
    expect(first.isError).toBeFalsy();
    expect(existsSync(m)).toBe(true);
    rmSync(m);
    const replay = await rawCall(HUGO, 'run_command', answer);
    expect(replay.isError).toBe(true);
    expect(replay.content[0].text).toMatch(/already used/);
    expect(existsSync(m)).toBe(false);
  });

  it('confirm needs the token of a preview of exactly this call, user and tool', async () => {
    await using cory = await connectClient(hub.url, CORY, 'modern');
    const m = markerFile();
    const args = { node: 'pi', cmd: `touch ${m}` };

    // A first call with confirm: true and no preview: refused, nothing ran.
    const bare = (await cory.callTool({ name: 'run_command', arguments: { ...args, confirm: true } })) as any;
    expect(bare.isError).toBe(true);
    expect(resultText(bare)).toContain('without confirm first');
    expect(existsSync(m)).toBe(false);

    const preview = (await cory.callTool({ name: 'run_command', arguments: args })) as any;
    expect(preview.structuredContent.status).toBe('confirmation_required');
    const token = preview.structuredContent.confirm as string;
    expect(typeof token).toBe('string');

    // The token for other arguments (a payload swapped in after the preview): refused.
    const m2 = markerFile();
    const swapped = (await cory.callTool({ name: 'run_command', arguments: { node: 'pi', cmd: `touch ${m2}`, confirm: token } })) as any;
    expect(swapped.isError).toBe(true);
    expect(resultText(swapped)).toContain('without confirm first');
    expect(existsSync(m2)).toBe(false);
    // The token used by another user: refused.
    await using cara = await connectClient(hub.url, CARA, 'modern');
    expect(((await cara.callTool({ name: 'run_command', arguments: { ...args, confirm: token } })) as any).isError).toBe(true);
    expect(existsSync(m)).toBe(false);

    // The right token: runs.
    const ran = (await cory.callTool({ name: 'run_command', arguments: { ...args, confirm: token } })) as any;
    expect(ran.isError).toBeFalsy();
    expect(existsSync(m)).toBe(true);

    // The schema says what confirm takes.
    const tools = (await cory.listTools()).tools;
    expect((tools.find((t) => t.name === 'run_command')!.inputSchema.properties as any).confirm).toMatchObject({ type: 'string', description: expect.stringContaining('token') });
  });

  it('get_session_info says when a session approval lapses', async () => {
    await using client = await connectClient(hub.url, SAM, 'modern');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const before = Date.now();
    const info = (await client.callTool({ name: 'get_session_info', arguments: {} })) as any;
    expect(info.structuredContent).toMatchObject({ session: 'client:homelab-test', writesApproved: true, approvalIdleMinutes: 30 });
    const expires = Date.parse(info.structuredContent.approvalExpiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 29 * 60_000);
    expect(resultText(info)).toContain('30 minutes without calls');
  });

  it('an approval keyed by a client name lapses after the configured idle time', async () => {
    await using client = await connectClient(idleHub.url, IDA, 'modern');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    // Idle time is 1.2 s: wait longer than that. A loaded machine only waits longer still.
    await new Promise((r) => setTimeout(r, 1500));
    const m = markerFile();
    const held = (await client.callTool({ name: 'run_command', arguments: { node: 'pi', cmd: `touch ${m}` } })) as any;
    expect(held.structuredContent.status).toBe('approval_required');
    expect(resultText(held)).toContain('without calls');
    expect(existsSync(m)).toBe(false);
    const info = (await client.callTool({ name: 'get_session_info', arguments: {} })) as any;
    expect(info.structuredContent.writesApproved).toBe(false);
  });
});

describe('item 11: redaction in the journal and the logs', () => {
  it('stores none of these secrets, and keeps the commands readable', async () => {
    await using client = await connectClient(hub.url, SAM, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const secrets = ['s3cr3t-db-pass', 's3cr3t-mysql-pwd', 's3cr3t-aws-key', 's3cr3t-stripe', 's3cr3t-pat', 's3cr3t-mysql-p', 's3cr3t-htpasswd', 's3cr3t-url', 's3cr3t-bearer', 'czNjcjN0LWJhc2lj', 's3cr3t-curl-u'];
    const lines = [
      `DB_PASS=${secrets[0]}`,
      `MYSQL_PWD=${secrets[1]}`,
      `AWS_SECRET_ACCESS_KEY=${secrets[2]}`,
      `STRIPE_KEY=${secrets[3]}`,
      `GITHUB_PAT=${secrets[4]}`,
      `mysql -uroot -p${secrets[5]} shop`,
      `htpasswd -b /tmp/htpasswd alice ${secrets[6]}`,
      `curl https://alice:${secrets[7]}@nas.invalid/x`,
      `curl -H 'Authorization: Bearer ${secrets[8]}' https://x.invalid`,
      `curl -H 'Authorization: Basic ${secrets[9]}' https://x.invalid`,
      `curl -u alice:${secrets[10]} https://x.invalid`,
    ];
    // Comments: the shell runs nothing of them, the journal still records them.
    const cmd = ['true', ...lines.map((l) => `# ${l}`)].join('\n');
    const r = (await client.callTool({ name: 'run_command', arguments: { node: 'pi', cmd } })) as any;
    expect(r.isError).toBeFalsy();
    const event = journalOf(hub).findLast((e) => e.tool === 'run_command' && e.user === 'sam' && e.decision === 'allowed')!;
    const stored = JSON.stringify(event);
    for (const s of secrets) expect(stored, s).not.toContain(s);
    expect(event.args.cmd).toContain('mysql -uroot -p[REDACTED] shop');
    expect(event.args.cmd).toContain('htpasswd -b /tmp/htpasswd alice [REDACTED]');
    expect(event.argsSha256).toBe(sha256(JSON.stringify({ cmd, node: 'pi' })));
    for (const s of secrets) expect(hub.output(), s).not.toContain(s);
  });
});

describe('item 15: a lone surrogate in the arguments', () => {
  it('leaves every journal line valid UTF-8 JSON that jq reads', async () => {
    const jq = spawnSync('jq', ['--version'], { encoding: 'utf8' });
    expect(jq.status, 'jq is needed for this test: apt-get install -y jq').toBe(0);
    // JSON.stringify writes the lone halves as the escapes \ud800 and \udc00 in the body.
    const held = await rawCall(SAM, 'run_command', { arguments: { node: 'pi', cmd: 'echo \ud800 half', ['k\udc00']: 'x' } }, { 'io.modelcontextprotocol/clientInfo': { name: 'evil\ud83d', version: '1' } });
    expect(held.structuredContent.status).toBe('approval_required');
    const auditDir = join(hub.dir, 'data', 'audit');
    const files = readdirSync(auditDir).filter((f) => f.endsWith('.jsonl'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const r = spawnSync('jq', ['-c', '.', join(auditDir, f)], { encoding: 'utf8' });
      expect(r.status, `jq on ${f}: ${r.stderr}`).toBe(0);
    }
    const event = journalOf(hub).findLast((e) => e.tool === 'run_command' && e.decision === 'pending' && e.user === 'sam')!;
    expect(event.args.cmd).toBe('echo \\ud800 half');
    expect(event.args['k\\udc00']).toBe('x');
    expect(event.client.name).toBe('evil\\ud83d');
  });
});

/** Whether `s` holds a character a terminal would act on or reorder instead of showing it. */
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060\u2066-\u2069\ufeff]/;

describe('red team, round 2 (issue #10)', () => {
  it('a confirm token runs one call: its replays are refused and run nothing', async () => {
    await using cory = await connectClient(hub.url, CORY, 'modern');
    const file = join(dir, 'replay.txt');
    const args = { node: 'pi', cmd: `echo run >> ${file}` };
    const preview = (await cory.callTool({ name: 'run_command', arguments: args })) as any;
    const token = preview.structuredContent.confirm as string;
    const first = (await cory.callTool({ name: 'run_command', arguments: { ...args, confirm: token } })) as any;
    expect(first.isError).toBeFalsy();
    for (let i = 0; i < 2; i++) {
      const again = (await cory.callTool({ name: 'run_command', arguments: { ...args, confirm: token } })) as any;
      expect(again.isError).toBe(true);
      expect(resultText(again)).toContain('already used');
      expect(again.structuredContent).toMatchObject({ status: 'denied', reason: 'the confirm token was already used' });
    }
    expect(readFileSync(file, 'utf8')).toBe('run\n');
    // A new preview gives a new token, which runs once more.
    const next = ((await cory.callTool({ name: 'run_command', arguments: args })) as any).structuredContent.confirm as string;
    expect(next).not.toBe(token);
    expect(((await cory.callTool({ name: 'run_command', arguments: { ...args, confirm: next } })) as any).isError).toBeFalsy();
    expect(readFileSync(file, 'utf8')).toBe('run\nrun\n');
  });

  it('a confirm token for "role:X" does not run on nodes added since the preview', async () => {
    await using a = await startEdgeProcess();
    await using b = await startEdgeProcess();
    const base = {
      auth: { tokens: [{ user: 'cory', role: 'operator', token: CORY }] },
      local: { enabled: false },
      nodes: [{ name: 'a', url: a.url, token: a.token, roles: ['web'] }],
      approval: { mode: 'confirm' },
    };
    await using h = await startHubProcess({ config: base });
    await using cory = await connectClient(h.url, CORY, 'modern');
    const file = join(dir, 'role-web.txt');
    const args = { node: 'role:web', cmd: `echo "$(hostname) ran" >> ${file}` };
    const preview = (await cory.callTool({ name: 'run_command', arguments: args })) as any;
    expect(preview.structuredContent.preview.where).toEqual(['a']);
    const token = preview.structuredContent.confirm as string;

    // The admin adds node b with the same role (a config reload); the token was for a only.
    writeFileSync(join(h.dir, 'hub.yaml'), JSON.stringify({ ...base, dataDir: './data', nodes: [...base.nodes, { name: 'b', url: b.url, token: b.token, roles: ['web'] }] }));
    await expect
      .poll(async () => ((await cory.callTool({ name: 'run_command', arguments: args })) as any).structuredContent?.preview?.where, { timeout: 10_000 })
      .toEqual(['a', 'b']);

    const stale = (await cory.callTool({ name: 'run_command', arguments: { ...args, confirm: token } })) as any;
    expect(stale.isError).toBe(true);
    expect(resultText(stale)).toContain('changed since the preview (now: a, b). Preview again');
    expect(stale.structuredContent).toMatchObject({ status: 'denied', where: ['a', 'b'] });
    expect(existsSync(file)).toBe(false);

    // Previewed again, the person sees both nodes, and the new token runs on both.
    const fresh = (await cory.callTool({ name: 'run_command', arguments: args })) as any;
    expect(resultText(fresh)).toContain(' on a, b');
    const ran = (await cory.callTool({ name: 'run_command', arguments: { ...args, confirm: fresh.structuredContent.confirm } })) as any;
    expect(ran.isError).toBeFalsy();
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('control characters cannot redraw or reorder a preview: shown escaped, arguments exact', async () => {
    const m = markerFile();
    // ESC[2K erases the line, CR returns, ESC[1A moves up, U+202E reverses what follows.
    const cmd = `echo hello\u001b[2K\r\u001b[1A touch ${m}\u202e\u200b`;
    const args = { node: 'pi', cmd };
    const checkText = (text: string) => {
      expect(text).not.toMatch(INVISIBLE);
      expect(text).toContain('contains control characters, shown escaped');
      expect(text).toContain(`echo hello\\u{1b}[2K\\u{d}\\u{1b}[1A touch ${m}\\u{202e}\\u{200b}`);
    };

    // confirm: the text and the action line are escaped, structuredContent's arguments exact.
    await using cory = await connectClient(hub.url, CORY, 'modern');
    const held = (await cory.callTool({ name: 'run_command', arguments: args })) as any;
    expect(held.structuredContent.status).toBe('confirmation_required');
    checkText(resultText(held));
    expect(held.structuredContent.preview.action).not.toMatch(INVISIBLE);
    expect(held.structuredContent.preview.note).toContain('shown escaped');
    expect(held.structuredContent.preview.arguments).toEqual({ cmd });

    // human, 2025 session: the question the person is asked.
    const asked: string[] = [];
    await using hugo = await connectClient(hub.url, HUGO, 'legacy', { onElicit: (message) => (asked.push(message), { action: 'decline' }) });
    const declined = (await hugo.callTool({ name: 'run_command', arguments: args })) as any;
    expect(declined.isError).toBe(true);
    expect(asked).toHaveLength(1);
    checkText(asked[0]!);

    // human, 2026-07-28 request: the input_required message.
    const modern = await rawCall(HUGO, 'run_command', { arguments: args });
    expect(modern.resultType).toBe('input_required');
    checkText(modern.inputRequests.approve.params?.message ?? modern.inputRequests.approve.message);
    expect(existsSync(m)).toBe(false);

    // A plain command says nothing about control characters.
    const plain = (await cory.callTool({ name: 'run_command', arguments: { node: 'pi', cmd: 'echo plain\techo' } })) as any;
    expect(resultText(plain)).not.toContain('control characters');
    expect(plain.structuredContent.preview.note).toBeUndefined();
  });

  it('approve_writes and revoke_writes are not announced as read-only, and still need no approval', async () => {
    await using sam = await connectClient(hub.url, SAM, 'modern');
    const tools = (await sam.listTools()).tools;
    for (const name of ['approve_writes', 'revoke_writes']) {
      expect(tools.find((t) => t.name === name)!.annotations, name).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: true });
    }
    expect(tools.find((t) => t.name === 'get_session_info')!.annotations).toMatchObject({ readOnlyHint: true });
    expect(((await sam.callTool({ name: 'approve_writes', arguments: {} })) as any).structuredContent.approved).toBe(true);
    expect(((await sam.callTool({ name: 'revoke_writes', arguments: {} })) as any).structuredContent.revoked).toBe(true);
    // A viewer still gets a clear refusal, not an approval request.
    await using vic = await connectClient(hub.url, VIC, 'modern');
    const refused = (await vic.callTool({ name: 'approve_writes', arguments: {} })) as any;
    expect(refused.isError).toBe(true);
    expect(resultText(refused)).toContain('vic is a viewer: writes cannot be approved.');
  });

  it('the journal hides the passwords of smbclient, docker login, redis-cli, ldap* and secret env names', async () => {
    await using client = await connectClient(hub.url, SAM, 'legacy');
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const s = (n: number) => `r3dt3am-${n}-s3cr3t`;
    const lines = [
      `smbclient //nas/share -U alice%${s(1)} -c ls`,
      `docker login -u me -p ${s(2)} ghcr.io`,
      `docker login -u me --password ${s(3)} ghcr.io`,
      `redis-cli -h db -a ${s(4)} ping`,
      `ldapsearch -x -D cn=admin -w ${s(5)} -b dc=home`,
      `ldapmodify -D cn=admin -w${s(6)} -f change.ldif`,
      `AUTH=${s(7)} SMTP_PASSWD=${s(8)} KEY=${s(9)} TOKEN_FILE_CONTENT=${s(10)} ./send`,
      `curl -d x https://hooks.slack.com/services/T0001/B0001/${s(11)}`,
      `vault login ${s(19)}`,
      `zip -P ${s(20)} backup.zip notes`,
      `mosquitto_pub -h broker -u ha -P ${s(21)} -t x -m 1`,
      `nmcli dev wifi connect Home password ${s(22)}`,
      `curl "https://acct.blob.core.windows.net/c/f?sv=1&sig=${s(23)}&se=2"`,
      'echo compass author keyboard pinned spin',
    ];
    const env = { MQTT_PASSWD: s(12), SMTP_AUTH: s(13), MY_CREDS: s(14), SESSION_COOKIE: s(15), PIN: s(16), SIGNING_SALT: s(17), PRIVATE: s(18), EDITOR: 'vi' };
    const cmd = ['true', ...lines.map((l) => `# ${l}`)].join('\n');
    const r = (await client.callTool({ name: 'run_command', arguments: { node: 'pi', cmd, env } })) as any;
    expect(r.isError).toBeFalsy();
    const event = journalOf(hub).findLast((e) => e.tool === 'run_command' && e.user === 'sam' && e.decision === 'allowed' && String(e.args.cmd).includes('smbclient'))!;
    expect(JSON.stringify(event)).not.toMatch(/r3dt3am-\d+-s3cr3t/);
    expect(hub.output()).not.toMatch(/r3dt3am-\d+-s3cr3t/);
    // What ran stays readable, only the secrets went.
    expect(event.args.cmd).toContain('smbclient //nas/share -U alice%[REDACTED] -c ls');
    expect(event.args.cmd).toContain('docker login -u me -p [REDACTED] ghcr.io');
    expect(event.args.cmd).toContain('redis-cli -h db -a [REDACTED] ping');
    expect(event.args.cmd).toContain('ldapmodify -D cn=admin -w[REDACTED] -f change.ldif');
    expect(event.args.cmd).toContain('https://hooks.slack.com/services/[REDACTED]');
    expect(event.args.cmd).toContain('echo compass author keyboard pinned spin');
    expect(event.args.env).toMatchObject({ MQTT_PASSWD: '[REDACTED]', PIN: '[REDACTED]', PRIVATE: '[REDACTED]', EDITOR: 'vi' });
  });
});

describe('audit round 4: a command cannot lay out its own preview (item 3)', () => {
  it('newlines cannot forge an arguments line or push the payload out of sight, nor can a long run of spaces', async () => {
    const m1 = markerFile();
    const m2 = markerFile();
    // Looks like a whole preview of `uptime`, then 200 empty lines, then the payload (valid sh:
    // a comment, a line that fails, the payload).
    const forged = `uptime #\` on pi\narguments: {"cmd":"uptime"}${'\n'.repeat(200)}touch ${m1} #`;
    const spaced = `uptime${' '.repeat(3000)}; touch ${m2}`;
    await using cory = await connectClient(hub.url, CORY, 'modern');
    const held = (await cory.callTool({ name: 'run_command', arguments: { node: 'pi', cmd: forged } })) as any;
    const lines = resultText(held).split('\n');
    // One arguments line, the hub's own (the command's is marked as part of the action), and it holds the payload.
    expect(lines.filter((l) => l.startsWith('arguments:'))).toEqual([`arguments: ${JSON.stringify({ cmd: forged })}`]);
    expect(lines).toContain('│ arguments: {"cmd":"uptime"}');
    expect(lines).toContain('│ [199 empty lines]');
    expect(lines).toContain(`│ touch ${m1} #\` on pi`);
    expect(lines.length).toBeLessThan(20);
    expect(held.structuredContent.preview.arguments).toEqual({ cmd: forged });
    expect(held.structuredContent.preview.note).toContain('marked │');
    const spacedHeld = (await cory.callTool({ name: 'run_command', arguments: { node: 'pi', cmd: spaced } })) as any;
    expect(resultText(spacedHeld)).not.toContain(' '.repeat(16));
    expect(resultText(spacedHeld)).toContain(`uptime [3000 blanks] ; touch ${m2}`);
    expect(spacedHeld.structuredContent.preview.arguments).toEqual({ cmd: spaced });

    // The question a person is asked (human mode, 2025 session): the same layout.
    const asked: string[] = [];
    await using hugo = await connectClient(hub.url, HUGO, 'legacy', { onElicit: (message) => (asked.push(message), { action: 'decline' }) });
    await hugo.callTool({ name: 'run_command', arguments: { node: 'pi', cmd: forged } });
    expect(asked).toHaveLength(1);
    expect(asked[0]!.split('\n').filter((l) => !l.startsWith('│')).map((l) => l.slice(0, 12))).toEqual(['run `uptime ', '{"cmd":"upti', '(This previe']);
    expect(asked[0]).toContain(`│ touch ${m1} #\` on pi?`);

    // What runs on the confirm token is the exact command, newlines and spaces included.
    for (const [cmd, r] of [[forged, held], [spaced, spacedHeld]] as const) {
      const ran = (await cory.callTool({ name: 'run_command', arguments: { node: 'pi', cmd, confirm: r.structuredContent.confirm } })) as any;
      expect(ran.isError).toBeFalsy();
    }
    expect([m1, m2].map(existsSync)).toEqual([true, true]);
  });
});
