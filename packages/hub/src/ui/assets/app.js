// The admin UI's only script (served from the hub: the CSP allows no other). Three jobs:
// reload a page's <main> when it asks (data-refresh), add live audit rows (data-stream), and
// filter long tables as you type (data-filter). Everything else works without it.
'use strict';

function refresh(main) {
  const seconds = Number(main.dataset.refresh);
  if (!(seconds > 0)) return;
  setInterval(async () => {
    // Never pull a page from under a person reading a row or typing a filter.
    if (document.hidden || main.querySelector('details[open]') || main.contains(document.activeElement) && document.activeElement.matches('input, select, textarea')) return;
    const url = new URL(location.href);
    url.searchParams.set('fragment', '1');
    try {
      const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } });
      if (res.redirected || !res.ok) {
        if (res.status === 401 || new URL(res.url).pathname === '/ui/login') location.assign('/ui/login');
        return;
      }
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const next = doc.querySelector('main');
      if (next) main.replaceChildren(...next.childNodes);
    } catch {
      // The hub restarting: the next round tries again.
    }
  }, seconds * 1000);
}

function stream(tbody) {
  const src = tbody.dataset.stream;
  if (!src || !src.startsWith('/ui/')) return;
  const max = Number(tbody.dataset.max) || 500;
  const status = document.getElementById('stream-status');
  const es = new EventSource(src);
  es.addEventListener('open', () => status && (status.textContent = 'live'));
  // CLOSED: the browser gave up (the hub refused the stream: logged out, restarted, too many
  // tabs); it would say "reconnecting…" for ever otherwise.
  es.addEventListener('error', () => status && (status.textContent = es.readyState === EventSource.CLOSED ? 'stopped: reload the page (you may have to log in again)' : 'reconnecting…'));
  es.addEventListener('rows', (e) => {
    // Rows come rendered (and escaped) by the hub, newest first.
    const tpl = document.createElement('template');
    tpl.innerHTML = e.data;
    for (const row of [...tpl.content.querySelectorAll('tr')].reverse()) {
      if (row.dataset.id && tbody.querySelector(`tr[data-id="${CSS.escape(row.dataset.id)}"]`)) continue;
      row.classList.add('new');
      tbody.prepend(row);
    }
    while (tbody.rows.length > max) tbody.deleteRow(-1);
    const empty = document.getElementById('audit-empty');
    if (empty) empty.remove();
  });
  es.addEventListener('reload', (e) => {
    es.close();
    // At most one automatic reload in 10 s: a stream that keeps asking for one (a journal that
    // cannot be read) must not make the page reload for ever.
    const last = Number(sessionStorage.getItem('audit-reload') || 0);
    if (Date.now() - last < 10000) {
      if (status) status.textContent = `stopped: ${e.data} (reload the page)`;
      return;
    }
    sessionStorage.setItem('audit-reload', String(Date.now()));
    location.reload();
  });
}

function filter(input) {
  const table = document.getElementById(input.dataset.filter);
  if (!table) return;
  input.addEventListener('input', () => {
    const q = input.value.trim().toLowerCase();
    for (const row of table.tBodies[0].rows) row.hidden = q !== '' && !row.textContent.toLowerCase().includes(q);
  });
}

document.addEventListener('DOMContentLoaded', () => {
  for (const main of document.querySelectorAll('main[data-refresh]')) refresh(main);
  for (const tbody of document.querySelectorAll('tbody[data-stream]')) stream(tbody);
  for (const input of document.querySelectorAll('input[data-filter]')) filter(input);
});
