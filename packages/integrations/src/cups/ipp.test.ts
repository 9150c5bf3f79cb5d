/**
 * The IPP codec against messages captured from Debian's cupsd 2.4.2 and its ipptool (see
 * __fixtures__: `*.response.bin` are cupsd's answers, `ipptool-*.request.bin` what ipptool sent,
 * `print-job.request.bin` a request of ours that cupsd accepted), and against hostile input.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeIpp, DEFAULT_IPP_LIMITS, encodeIpp, GROUP_TAG, IPP_OP, IppError, operationGroup, VALUE_TAG, type IppLimits } from './ipp.ts';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url)));

describe('decodeIpp on cupsd answers', () => {
  it('CUPS-Get-Printers: state, reasons, queued jobs, a collection', () => {
    const r = decodeIpp(fixture('cups-get-printers.response.bin'));
    expect(r).toMatchObject({ version: '2.0', statusCode: 0, requestId: 1 });
    const p = r.groups.find((g) => g.tag === 'printer')!.attributes;
    expect(p).toMatchObject({ 'printer-name': ['PDF'], 'printer-state': [3], 'printer-state-reasons': ['none'], 'printer-is-accepting-jobs': [true], 'queued-job-count': [1], 'printer-make-and-model': ['Generic CUPS-PDF Printer (w/ options)'] });
    expect(p['media-col-default']).toEqual([{ 'media-size': [{ 'x-dimension': [20990], 'y-dimension': [29704] }], 'media-bottom-margin': [0], 'media-left-margin': [0], 'media-right-margin': [0], 'media-top-margin': [0] }]);
  });

  it('every attribute of a printer (ipptool\'s get-printers.test): dates, ranges, resolutions, out-of-band values, 1setOf', () => {
    const p = decodeIpp(fixture('get-printers-all-attributes.response.bin')).groups.find((g) => g.tag === 'printer')!.attributes;
    expect(p['printer-current-time']![0]).toMatch(/^2026-12-07T\d\d:\d\d:\d\d\.000Z$/);
    expect(p['copies-supported']).toEqual([{ lower: 1, upper: 9999 }]);
    expect(p['printer-resolution-default']).toEqual([{ x: 300, y: 300, units: 3 }]);
    expect(p['printer-dns-sd-name']).toEqual([null]);
    expect(p['printer-geo-location']).toEqual([null]);
    expect(p['ipp-versions-supported']).toEqual(['1.0', '1.1', '2.0', '2.1']);
    expect(p['which-jobs-supported']).toContain('all');
    expect(p['operations-supported']).toContain(IPP_OP.cupsGetPrinters);
  });

  it('Get-Jobs: one group per job, no-value for a time that has not come', () => {
    const r = decodeIpp(fixture('get-jobs-all.response.bin'));
    const jobs = r.groups.filter((g) => g.tag === 'job').map((g) => g.attributes);
    expect(jobs.map((j) => [j['job-id']![0], j['job-name']![0], j['job-state']![0], j['job-state-reasons']![0]])).toEqual([
      [1, 'hello-done', 9, 'processing-to-stop-point'],
      [2, 'held-one', 4, 'job-hold-until-specified'],
    ]);
    expect(jobs[1]!['time-at-completed']).toEqual([null]);
    expect(decodeIpp(fixture('get-jobs-pending.response.bin')).requestId).toBe(7673);
  });

  it('errors carry status-message: a missing job or printer, an unsupported format', () => {
    expect(decodeIpp(fixture('cancel-job-gone.response.bin'))).toMatchObject({ statusCode: 0x0406, groups: [{ attributes: { 'status-message': ['Job #999 does not exist.'] } }] });
    expect(decodeIpp(fixture('get-printer-missing.response.bin')).groups[0]!.attributes['status-message']).toEqual(['The printer or class does not exist.']);
    const bad = decodeIpp(fixture('print-job-bad-format.response.bin'));
    expect(bad.statusCode).toBe(0x040a);
    expect(bad.groups[1]).toEqual({ tag: 'unsupported', attributes: { 'document-format': ['application/x-nope'] } });
    expect(decodeIpp(fixture('print-job.response.bin')).groups[1]!.attributes).toMatchObject({ 'job-id': [3], 'job-state': [3] });
    expect(decodeIpp(fixture('get-job-attributes.response.bin')).groups[1]!.attributes['job-sheets']).toEqual(['none', 'none']);
  });
});

describe('encodeIpp', () => {
  it('writes the same bytes as ipptool for the same request', () => {
    const ours = encodeIpp({
      version: '1.1',
      operation: IPP_OP.getJobs,
      requestId: 7673,
      groups: [
        {
          tag: GROUP_TAG.operation,
          attributes: [
            { tag: VALUE_TAG.charset, name: 'attributes-charset', values: ['utf-8'] },
            { tag: VALUE_TAG.naturalLanguage, name: 'attributes-natural-language', values: ['en'] },
            { tag: VALUE_TAG.uri, name: 'printer-uri', values: ['ipp://127.0.0.1:40957/printers/PDF'] },
            { tag: VALUE_TAG.keyword, name: 'requested-attributes', values: ['job-id', 'job-uri', 'job-state', 'job-state-reasons', 'job-name', 'job-originating-user-name', 'job-media-sheets', 'job-media-sheets-completed', 'job-impressions', 'job-impressions-completed'] },
          ],
        },
      ],
    });
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(fixture('ipptool-get-jobs.request.bin')).toString('hex'));
  });

  it('a Print-Job as cupsd accepted it: operation group, job group with copies, then the document', () => {
    const ours = encodeIpp({
      operation: IPP_OP.printJob,
      requestId: 3,
      groups: [
        operationGroup('ipp://127.0.0.1:41087/printers/PDF', 'homelab-mcp', [
          { tag: VALUE_TAG.name, name: 'job-name', values: ['captured'] },
          { tag: VALUE_TAG.mimeMediaType, name: 'document-format', values: ['text/plain'] },
        ]),
        { tag: GROUP_TAG.job, attributes: [{ tag: VALUE_TAG.integer, name: 'copies', values: [2] }] },
      ],
      data: new TextEncoder().encode('captured text\n'),
    });
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(fixture('print-job.request.bin')).toString('hex'));
  });

  it('refuses what it cannot encode', () => {
    expect(() => encodeIpp({ operation: 1, requestId: 1, groups: [{ tag: 1, attributes: [{ tag: VALUE_TAG.integer, name: 'copies', values: [2 ** 31] }] }] })).toThrow(IppError);
    expect(() => encodeIpp({ operation: 1, requestId: 1, groups: [{ tag: 1, attributes: [{ tag: VALUE_TAG.text, name: 'x', values: ['é'.repeat(20_000)] }] }] })).toThrow('longer than 32767');
  });
});

describe('decodeIpp on hostile answers', () => {
  const real = fixture('get-printers-all-attributes.response.bin');

  it('a real answer cut at any byte is an IppError, never another exception', () => {
    for (let n = 0; n < real.length; n++) {
      expect(() => decodeIpp(real.subarray(0, n)), `cut at ${n}`).toThrow(IppError);
    }
  });

  it('flipped bytes end in a result or an IppError', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from(real);
      for (let k = 0; k < 4; k++) b[8 + (rnd() % (b.length - 8))] = rnd() & 0xff;
      try {
        decodeIpp(b);
      } catch (err) {
        expect(err).toBeInstanceOf(IppError);
      }
    }
  });

  it('an HTML page (a proxy, or not CUPS at all) is named as not IPP', () => {
    expect(() => decodeIpp(new TextEncoder().encode('<html><body>Bad gateway</body></html>'))).toThrow(/^IPP: version 60\.104 is not IPP/);
  });

  const header = [2, 0, 0, 0, 0, 0, 0, 1];
  const attr = (tag: number, name: string, value: number[]) => [tag, 0, name.length, ...Buffer.from(name), value.length >> 8, value.length & 255, ...value];
  const limits: IppLimits = { ...DEFAULT_IPP_LIMITS, groups: 3, attributes: 5, valuesPerAttribute: 4, depth: 2 };

  it('caps groups, attributes, values and collection depth', () => {
    expect(() => decodeIpp(Uint8Array.from([...header, 4, 4, 4, 4, 3]), limits)).toThrow('more than 3 attribute groups');
    const many = Array.from({ length: 6 }, (_, i) => attr(0x21, `a${i}`, [0, 0, 0, 1])).flat();
    expect(() => decodeIpp(Uint8Array.from([...header, 4, ...many, 3]), limits)).toThrow('more than 5 attributes');
    const values = [...attr(0x21, 'a', [0, 0, 0, 1]), ...Array.from({ length: 4 }, () => attr(0x21, '', [0, 0, 0, 2])).flat()];
    expect(() => decodeIpp(Uint8Array.from([...header, 4, ...values, 3]), limits)).toThrow('more than 4 values');
    const deep = [...attr(0x34, 'c', []), ...attr(0x4a, '', [...Buffer.from('m')]), ...attr(0x34, '', []), ...attr(0x4a, '', [...Buffer.from('n')]), ...attr(0x34, '', [])];
    expect(() => decodeIpp(Uint8Array.from([...header, 4, ...deep]), limits)).toThrow('nested deeper than 2');
  });

  it('lengths past the end, wrong fixed sizes and misplaced tags are errors', () => {
    expect(() => decodeIpp(Uint8Array.from([...header, 4, 0x41, 0, 1, 0x61, 0xff, 0xff, 0x61, 3]))).toThrow('ends inside the value of a');
    expect(() => decodeIpp(Uint8Array.from([...header, 4, ...attr(0x21, 'n', [0, 1]), 3]))).toThrow('has 2 bytes, not 4');
    expect(() => decodeIpp(Uint8Array.from([...header, ...attr(0x21, 'n', [0, 0, 0, 1]), 3]))).toThrow('before any group');
    expect(() => decodeIpp(Uint8Array.from([...header, 4, ...attr(0x21, '', [0, 0, 0, 1]), 3]))).toThrow('additional value without an attribute');
    expect(() => decodeIpp(Uint8Array.from([...header, 4, ...attr(0x37, '', []), 3]))).toThrow('never began');
    expect(() => decodeIpp(Uint8Array.from([...header, 4, ...attr(0x34, 'c', []), 3]))).toThrow('not closed');
  });

  it('a long string is cut, not kept whole', () => {
    const long = Array.from({ length: 10_000 }, () => 0x61);
    const r = decodeIpp(Uint8Array.from([...header, 4, ...attr(0x41, 't', long), 3]));
    expect((r.groups[0]!.attributes.t![0] as string).length).toBe(DEFAULT_IPP_LIMITS.stringChars + 1);
  });
});
