import { describe, expect, it } from 'vitest';
import { shownService, shownUrl } from './shown-url.ts';

describe('shownUrl', () => {
  it('hides userinfo, query values and the fragment, keeps host and path', () => {
    expect(shownUrl('http://admin:pw@127.0.0.1:3000/d/x?token=t&orgId=1#k=v')).toBe('http://***@127.0.0.1:3000/d/x?token=***&orgId=***#***');
    expect(shownUrl('https://grafana.example/')).toBe('https://grafana.example/');
    expect(shownUrl('http://h/?secret')).toBe('http://h/?secret=***');
    expect(shownUrl('not a url')).toBe('(invalid url)');
  });
  it('shownService masks only the url', () => {
    expect(shownService({ name: 'g', url: 'http://u:p@h/' })).toEqual({ name: 'g', url: 'http://***@h/' });
    expect(shownService<{ name: string; url?: string }>({ name: 'g' })).toEqual({ name: 'g' });
  });
});
