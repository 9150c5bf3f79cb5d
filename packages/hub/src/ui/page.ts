/**
 * What a page of the UI gets, and what it returns: the inner HTML of `<main>`. The layout
 * (header, navigation, stylesheet and script) is `app.ts`'s.
 */
import type { Html } from './html.ts';
import type { UiData, UiViewer } from './contract.ts';

export interface PageContext {
  data: UiData;
  viewer: UiViewer;
  /** The request's query string. */
  query: URLSearchParams;
  /** Aborted when the browser goes away or the page's deadline passes. */
  signal: AbortSignal;
  now: number;
}

export interface Page {
  /** The path under /ui (`health`), the nav label and the `<main id="page-<path>">`. */
  path: string;
  title: string;
  render(ctx: PageContext): Promise<Html> | Html;
  /** When set, app.js reloads the page's <main> every so many seconds (not while a row is open). */
  refreshSeconds?: number;
}

/** Whether the viewer may see what `user` did: admins see everyone, others themselves. */
export const mayView = (viewer: UiViewer, user: string): boolean => viewer.role === 'admin' || viewer.user === user;
