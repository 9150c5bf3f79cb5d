/**
 * A service URL as clients see it. topology.yaml may hold `http://admin:${SECRET}@host/?token=X`
 * for the hub's own probes; tools and resources show viewers the URL without its userinfo and
 * with every query value and fragment masked (which key holds a secret cannot be known).
 */

/** @example shownUrl('http://admin:pw@h:3000/x?token=t&a=1') // 'http://***@h:3000/x?token=***&a=***' */
export function shownUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(invalid url)';
  }
  const auth = u.username || u.password ? '***@' : '';
  const query = [...u.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=***`).join('&');
  return `${u.protocol}//${auth}${u.host}${u.pathname}${query ? `?${query}` : u.search ? '?***' : ''}${u.hash ? '#***' : ''}`;
}

/** The service with its URL as {@link shownUrl} shows it. */
export function shownService<S extends { url?: string }>(s: S): S {
  return s.url ? { ...s, url: shownUrl(s.url) } : s;
}
