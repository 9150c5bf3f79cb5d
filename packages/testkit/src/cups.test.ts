import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { isAlive } from './process.ts';
import { startCups } from './cups.ts';

it('prints a text file to a PDF, holds a job, and stop() ends cupsd and removes what it wrote', async () => {
  const cups = await startCups();
  // Stopped at the end, where the test checks what stop() removes; and whatever happens.
  await using _stop = { [Symbol.asyncDispose]: () => cups.stop() };
  const file = join(cups.dir, 'hello.txt');
  writeFileSync(file, 'Hello from the throwaway CUPS\n');
  const job = await cups.lp(['-d', 'PDF', '-t', 'hello', file]);
  const pdf = await cups.pdfOf(job);
  const info = await cups.run('pdfinfo', [pdf]);
  expect(info.stdout).toMatch(/^Pages:\s+1$/m);
  const held = await cups.lp(['-d', 'PDF', '-H', 'hold', file]);
  expect((await cups.run('lpstat', ['-h', cups.host, '-o'])).stdout).toContain(`PDF-${held}`);
  await cups.stop();
  expect(isAlive(cups.pid)).toBe(false);
  expect(existsSync(cups.dir)).toBe(false);
  expect(existsSync(`/etc/cups/cups-pdf-t${cups.port}.conf`)).toBe(false);
});
