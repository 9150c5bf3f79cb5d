/** Tools: the catalog as the viewer's client sees it (their role's tools), with class and source. */
import { html } from '../html.ts';
import type { Page } from '../page.ts';

export const toolsPage: Page = {
  path: 'tools',
  title: 'Tools',
  render({ data, viewer }) {
    const tools = data.tools(viewer.role);
    const writes = tools.filter((t) => t.toolClass === 'write').length;
    return html`<h1>Tools</h1>
<p>${tools.length} tools as ${viewer.user}'s client sees them (role ${viewer.role}: ${writes} write, ${tools.length - writes} read). ${viewer.role === 'viewer' ? 'A viewer runs no write tools: an operator or admin token does.' : 'Writes go through the approval gate.'}</p>
<form class="filters" role="search"><label>Filter <input type="search" data-filter="tools-table" placeholder="name, source, words"></label></form>
<div class="table-wrap"><table id="tools-table"><thead><tr><th>Name</th><th>Source</th><th>Class</th><th>Description</th></tr></thead>
<tbody>${tools.map((t) => html`<tr data-tool="${t.name}"><td class="mono">${t.name}</td><td>${t.source}</td><td><span class="badge ${t.toolClass}">${t.toolClass}</span></td><td>${t.description}</td></tr>`)}</tbody></table></div>`;
  },
};
