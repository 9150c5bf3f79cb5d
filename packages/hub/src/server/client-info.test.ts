import { describe, expect, it } from 'vitest';
import { boundedClientInfo, MAX_CLIENT_FIELD } from './client-info.ts';

describe('boundedClientInfo', () => {
  it('cuts name and version to MAX_CLIENT_FIELD characters with a marker, drops other fields and non-strings', () => {
    const r = boundedClientInfo({ name: 'x'.repeat(1_000_000), version: '1.0', extra: 'y'.repeat(10) })!;
    expect(r.name!.length).toBe(MAX_CLIENT_FIELD);
    expect(r.name!.endsWith('…[cut]')).toBe(true);
    expect(r).toEqual({ name: r.name, version: '1.0' });
    expect(boundedClientInfo({ name: 7 })).toEqual({});
    expect(boundedClientInfo(undefined)).toBeUndefined();
  });
});
