import { showControls } from '../policy/gate.ts';

/**
 * HTML by tagged template: every interpolated value is escaped unless it is already `Html`
 * (made by this tag or by {@link raw}). Arrays are joined. `undefined`, `null` and `false`
 * render as nothing, so `${cond && html`...`}` works. Invisible and bidi control characters
 * show as `\u{202e}` (as the gate's previews show them): a tool description, an argument or an
 * edge's OS name must not reorder or hide what a person reads.
 *
 * @example html`<td>${event.user}</td>` // a user named `<script>` shows as text
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe in element content and in quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

function part(v: unknown): string {
  if (v === undefined || v === null || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(part).join('');
  // A carriage return is only a line break in HTML: kept (an error's CRLF stays as it was).
  return escapeHtml(String(v).split('\r').map(showControls).join('\r'));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Trusted markup as is (made by our own code, never from data). */
export function raw(s: string): Html {
  return new Html(s);
}

/** A time for people: `2026-12-07 16:52:02` (UTC), with the ISO time in a `<time>` element. */
export function timeTag(iso: string | Date | undefined): Html {
  if (iso === undefined) return html`<span class="muted">never</span>`;
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(d.getTime())) return html`<span class="muted">?</span>`;
  const s = d.toISOString();
  return html`<time datetime="${s}">${s.slice(0, 19).replace('T', ' ')}</time>`;
}

/** `3 min ago`, `2 h 5 min`, for ages and durations. */
export function ago(from: string | Date, now: number = Date.now()): string {
  const ms = Math.max(0, now - new Date(from).getTime());
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
