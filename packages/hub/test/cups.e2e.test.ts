/**
 * The CUPS integration through the bundled hub, with an SDK client, against a real cupsd (the
 * testkit's startCups: Debian's CUPS with a cups-pdf queue on a free loopback port): a print
 * is held by the gate with exactly what it will print, runs after approval, the job completes
 * and its PDF appears; a held job is cancelled the same way; an unreachable CUPS is named.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, freePort, readJournal, resultText, startCups, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'cups-hub-admin-token-0123456789';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('CUPS through the hub', () => {
  it('prints a text document after approval (the PDF appears, the job completes) and cancels a held job', { timeout: 120_000 }, async () => {
    await using cups = await startCups();
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, integrations: { cups: { url: cups.url, maxCopies: 2 } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'modern');
    // Each tool listed with annotations and a description that match its class.
    const classes: Record<string, 'read' | 'write'> = { list_printers: 'read', list_print_jobs: 'read', print_document: 'write', cancel_print_job: 'write' };
    const ours = (await client.listTools()).tools.filter((t) => t.name in classes);
    expect(ours.map((t) => [t.name, t.annotations?.readOnlyHint, t.annotations?.destructiveHint === false || t.annotations?.readOnlyHint === false, /^\[(read|write: needs approval)\] /.exec(t.description ?? '')?.[1]]).sort()).toEqual(
      Object.entries(classes).map(([n, c]) => [n, c === 'read', true, c === 'read' ? 'read' : 'write: needs approval']).sort(),
    );

    const printers = (await client.callTool({ name: 'list_printers', arguments: {} })) as Result;
    expect(printers.structuredContent!.printers).toMatchObject([{ name: 'PDF', state: 'idle', acceptingJobs: true, queuedJobs: 0 }]);

    const args = { printer: 'PDF', text: 'Shopping list\n- milk\n- bread\n', title: 'shopping' };
    const held = (await client.callTool({ name: 'print_document', arguments: args })) as Result;
    expect(held.structuredContent).toMatchObject({ status: 'approval_required', preview: { action: `Print text "Shopping list" (29 characters) as job "shopping" on printer PDF at CUPS ${cups.host}, 1 copy`, where: ['cups/PDF'] } });
    expect(((await client.callTool({ name: 'list_print_jobs', arguments: { which: 'all' } })) as Result).structuredContent).toEqual({ total: 0, jobs: [] });
    expect(((await client.callTool({ name: 'print_document', arguments: { ...args, copies: 3 } })) as Result).content[0]!.text).toMatch(/argument "copies"/);

    await client.callTool({ name: 'approve_writes', arguments: {} });
    const printed = (await client.callTool({ name: 'print_document', arguments: args })) as Result;
    expect(resultText(printed)).toMatch(/^printed text "Shopping list" \(29 characters\) on PDF as job \d+ "shopping" \(1 copy\)/);
    const job = printed.structuredContent!.job as number;
    await expect
      .poll(async () => ((await client.callTool({ name: 'list_print_jobs', arguments: { printer: 'PDF', which: 'completed' } })) as Result).structuredContent!.jobs, { timeout: 30_000, interval: 200 })
      .toMatchObject([{ id: job, name: 'shopping', state: 'completed', owner: 'homelab-mcp', printer: 'PDF' }]);
    const pdf = await cups.pdfOf(job);
    expect((await cups.run('pdfinfo', [pdf])).stdout).toMatch(/^Pages:\s+1$/m);

    // A job someone queued on hold, cancelled through the hub: previewed with its name and owner.
    await client.callTool({ name: 'revoke_writes', arguments: {} });
    const file = join(cups.dir, 'big.txt');
    writeFileSync(file, 'a long report\n');
    const waiting = await cups.lp(['-d', 'PDF', '-t', 'long-report', '-U', 'bob', '-H', 'hold', file]);
    const cancelHeld = (await client.callTool({ name: 'cancel_print_job', arguments: { job: waiting } })) as Result;
    expect(cancelHeld.structuredContent).toMatchObject({ status: 'approval_required', preview: { action: `Cancel print job ${waiting} "long-report" of bob on printer PDF at CUPS ${cups.host} (now held)`, where: ['cups/PDF'] } });
    await client.callTool({ name: 'approve_writes', arguments: {} });
    expect(resultText((await client.callTool({ name: 'cancel_print_job', arguments: { job: waiting } })) as Result)).toBe(`cancelled job ${waiting} "long-report" on PDF (was held, now canceled)`);
    expect((await cups.run('lpstat', ['-h', cups.host, '-W', 'completed', '-o', 'PDF'])).stdout).toMatch(new RegExp(`^PDF-${waiting}\\s+bob`, 'm'));

    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'CUPS')).toMatchObject({ healthy: true, detail: '1 printer; 0 queued jobs' });
    const events = readJournal(join(hub.dir, 'data'));
    expect(events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'cups').map((e) => e.detail.url)).toContain(`${cups.url}/printers/PDF`);
  });

  it('an unreachable CUPS: the tools and service_health name it, the hub\'s other tools answer', { timeout: 60_000 }, async () => {
    const port = await freePort();
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, integrations: { cups: { url: `ipp://127.0.0.1:${port}` } } },
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const r = (await client.callTool({ name: 'list_printers', arguments: {} })) as Result;
    expect(r.isError).toBe(true);
    expect(resultText(r)).toBe(`CUPS at 127.0.0.1:${port} is unreachable: connection refused`);
    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'CUPS')).toMatchObject({ healthy: false, detail: `CUPS at 127.0.0.1:${port} is unreachable: connection refused` });
    expect(((await client.callTool({ name: 'get_topology_summary', arguments: {} })) as Result).isError).toBeFalsy();
  });
});
