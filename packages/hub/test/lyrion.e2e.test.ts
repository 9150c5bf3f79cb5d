/**
 * The Lyrion integration through the bundled hub, with an SDK client, against the testkit's fake
 * LMS: the speakers case as a person runs it ("take down MPD on all the speakers and let's try
 * LMS again": run_command on role:speaker, then lms_control powering the players on, each held
 * by the gate with what it acts on named), lms_play, and an unreachable LMS.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startEdgeProcess, startFakeLms, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'lyrion-hub-admin-token-0123456789';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Lyrion through the hub', () => {
  it('the speakers: MPD stopped on role:speaker, then every player powered on, each after approval; lms_play', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lyrion-e2e-'));
    try {
      // What "MPD running" looks like on each speaker here: a pid file the stop removes.
      for (const n of ['kitchen', 'living']) writeFileSync(join(dir, `mpd-${n}.pid`), '4242\n');
      await using lms = await startFakeLms();
      await using kitchen = await startEdgeProcess();
      await using living = await startEdgeProcess();
      await using hub = await startHubProcess({
        config: {
          auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] },
          local: { enabled: false },
          nodes: [
            { name: 'pi-kitchen', url: kitchen.url, token: kitchen.token, roles: ['speaker'] },
            { name: 'pi-living', url: living.url, token: living.token, roles: ['speaker'] },
          ],
          integrations: { lyrion: { url: lms.url } },
        },
      });
      await using client = await connectClient(hub.url, TOKEN, 'modern');
      // Each tool listed with annotations and a description that match its class.
      const classes: Record<string, 'read' | 'write'> = { lms_players: 'read', lms_control: 'write', lms_play: 'write' };
      const ours = (await client.listTools()).tools.filter((t) => t.name in classes);
      expect(ours.map((t) => [t.name, t.annotations?.readOnlyHint, t.annotations?.destructiveHint === false || t.annotations?.readOnlyHint === false, /^\[(read|write: needs approval)\] /.exec(t.description ?? '')?.[1]]).sort()).toEqual(
        Object.entries(classes).map(([n, c]) => [n, c === 'read', true, c === 'read' ? 'read' : 'write: needs approval']).sort(),
      );

      const stop = { node: 'role:speaker', cmd: `rm -f ${dir}/mpd-kitchen.pid ${dir}/mpd-living.pid && echo mpd stopped` };
      const heldStop = (await client.callTool({ name: 'run_command', arguments: stop })) as Result;
      expect(heldStop.structuredContent!.status).toBe('approval_required');
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const stopped = (await client.callTool({ name: 'run_command', arguments: stop })) as Result;
      expect(stopped.structuredContent!.summary).toBe('2 nodes: 2 ok');
      expect(existsSync(join(dir, 'mpd-kitchen.pid')) || existsSync(join(dir, 'mpd-living.pid'))).toBe(false);
      await client.callTool({ name: 'revoke_writes', arguments: {} });

      const on = { player: 'all', action: 'power_on' };
      const held = (await client.callTool({ name: 'lms_control', arguments: on })) as Result;
      expect(held.structuredContent).toMatchObject({
        status: 'approval_required',
        preview: { action: `Power on Kitchen (off), Living Room (on, playing "Sinnerman - Nina Simone (Pastel Blues)", volume 40) on Lyrion at ${lms.host}`, where: ['lyrion/Kitchen', 'lyrion/Living Room'] },
      });
      expect(lms.requests().some((r) => r.command[0] === 'power')).toBe(false);
      await client.callTool({ name: 'approve_writes', arguments: {} });
      const powered = (await client.callTool({ name: 'lms_control', arguments: on })) as Result;
      expect(resultText(powered)).toBe('2 players: 2 ok\n- Kitchen: on, stopped, volume 25\n- Living Room: on, playing "Sinnerman - Nina Simone (Pastel Blues)", volume 40');
      expect(lms.player('Kitchen').power).toBe(1);

      const played = (await client.callTool({ name: 'lms_play', arguments: { player: ['Kitchen', 'Living Room'], query: 'Kind of Blue' } })) as Result;
      expect(resultText(played)).toMatch(/^play album "Kind of Blue" by Miles Davis:\n2 players: 2 ok\n- Kitchen: on, playing "So What - Miles Davis \(Kind of Blue\)"/);
      const listed = (await client.callTool({ name: 'lms_players', arguments: {} })) as Result;
      expect(listed.structuredContent!.players.map((p: { name: string; mode: string | null }) => [p.name, p.mode])).toEqual([
        ['Kitchen', 'play'],
        ['Living Room', 'play'],
        ['Garage Radio', null],
      ]);

      const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
      expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'Lyrion Music Server')).toMatchObject({ healthy: true, detail: 'LMS 9.0.2; 3 players (2 connected, 2 on, 2 playing)' });
      const events = readJournal(join(hub.dir, 'data'));
      expect(events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'lyrion').map((e) => e.detail.url)).toContain(`${lms.url}/jsonrpc.js`);
      expect(lms.unknown()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreachable LMS: lms_players and service_health name it', { timeout: 60_000 }, async () => {
    const port = await freePort();
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, integrations: { lyrion: { url: `http://127.0.0.1:${port}` } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const r = (await client.callTool({ name: 'lms_players', arguments: {} })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe(`Lyrion at 127.0.0.1:${port} is unreachable: connection refused`);
    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'Lyrion Music Server')).toMatchObject({ healthy: false, detail: `Lyrion at 127.0.0.1:${port} is unreachable: connection refused` });
  });
});
