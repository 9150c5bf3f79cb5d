/**
 * File tools, confined to the configured roots (see `paths.ts`): read with a cap, write
 * atomically (a temp file in the same directory, fsync, rename: a reader never sees half
 * a file, and a crash leaves the old one), and list with metadata.
 */
import { constants } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, readlink, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HomelabError, randomHex } from '@homelab-mcp/core';
import { defineCapability, defineTool } from '../capability.ts';
import { confine } from '../paths.ts';

const MAX_WRITE_BYTES = 64 * 1024 * 1024;
const MAX_LIST_ENTRIES = 5000;
const MAX_DEPTH = 8;

function fileError(path: string, err: unknown): HomelabError {
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOENT: 'does not exist',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENOSPC: 'no space left on the device',
    EROFS: 'the filesystem is read-only',
  };
  return new HomelabError('FILE_ERROR', `${path}: ${(code && why[code]) ?? (code || String(err))}`, { cause: err });
}

function modeString(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

function typeOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): string {
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export const readFile = defineTool<{ path: string; offset?: number; length?: number; encoding?: 'utf8' | 'base64' }>({
  name: 'read_file',
  title: 'Read a file',
  description: 'Reads a regular file under the allowed roots, from `offset`, at most `length` bytes (default and cap: the edge’s --max-output, 1 MiB by default). `eof` is false when more remains: read on from offset + bytesRead.',
  inputSchema: {
    type: 'object',
    properties: {
      path: { type: 'string', minLength: 1, maxLength: 4096, description: 'Absolute path of the file.' },
      offset: { type: 'integer', minimum: 0, description: 'Byte offset to start at (default 0).' },
      length: { type: 'integer', minimum: 0, description: 'Bytes to read at most.' },
      encoding: { type: 'string', enum: ['utf8', 'base64'], description: 'utf8 (default) for text, base64 for binary content.' },
    },
    required: ['path'],
    additionalProperties: false,
  },
  annotations: { title: 'Read a file', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ path, offset = 0, length, encoding = 'utf8' }, { env }) {
    const real = await confine(path, env.roots);
    const cap = Math.min(length ?? env.maxOutputBytes, env.maxOutputBytes);
    // O_NOFOLLOW and O_NONBLOCK: the checked path cannot be swapped for a symlink under us,
    // and a FIFO cannot hang the call.
    const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e) => {
      throw fileError(path, e);
    });
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new HomelabError('FILE_ERROR', `${path}: is a ${typeOf(st)}, not a regular file${st.isDirectory() ? ' (use list_directory)' : ''}`);
      const buf = Buffer.alloc(cap);
      let got = 0;
      // /proc and /sys files report size 0: read until EOF or the cap, never by size.
      while (got < cap) {
        const { bytesRead } = await fh.read(buf, got, cap - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const probe = Buffer.alloc(1);
      const more = got === cap && (await fh.read(probe, 0, 1, offset + got)).bytesRead > 0;
      const bytes = buf.subarray(0, got);
      let content: string;
      if (encoding === 'base64') content = bytes.toString('base64');
      else {
        try {
          content = strictUtf8.decode(bytes);
        } catch {
          if (!more) throw new HomelabError('FILE_ERROR', `${path}: not valid UTF-8 text; read it with encoding "base64"`);
          // The cap may have cut a multi-byte character in two: decode leniently.
          content = bytes.toString('utf8');
        }
      }
      const data = { path, size: st.size, offset, bytesRead: got, eof: !more, encoding, mode: modeString(st.mode), mtime: st.mtime.toISOString(), content };
      return { data, text: more ? `${content}\n[... more after byte ${offset + got}: read on with offset=${offset + got}]` : content };
    } finally {
      await fh.close();
    }
  },
});

export const writeFile = defineTool<{ path: string; content: string; encoding?: 'utf8' | 'base64'; mode?: string; create_dirs?: boolean }>({
  name: 'write_file',
  title: 'Write a file',
  description: 'Writes a file under the allowed roots atomically (temp file + rename): readers see the old or the new content, never half. An existing file keeps its mode and owner unless `mode` is given.',
  inputSchema: {
    type: 'object',
    properties: {
      path: { type: 'string', minLength: 1, maxLength: 4096, description: 'Absolute path of the file.' },
      content: { type: 'string', description: 'The new content.' },
      encoding: { type: 'string', enum: ['utf8', 'base64'], description: 'How `content` is encoded: utf8 (default) or base64.' },
      mode: { type: 'string', description: 'Octal permissions such as "0644" (default: kept, or 0644 for a new file).' },
      create_dirs: { type: 'boolean', description: 'Create missing parent directories (default false).' },
    },
    required: ['path', 'content'],
    additionalProperties: false,
  },
  annotations: { title: 'Write a file', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler({ path, content, encoding = 'utf8', mode, create_dirs = false }, { env }) {
    if (mode !== undefined && !/^0?[0-7]{3,4}$/.test(mode)) throw new HomelabError('INVALID_ARGUMENTS', `mode: expected octal permissions such as "0644", got "${mode}"`);
    if (encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(content.replace(/\s+/g, ''))) {
      throw new HomelabError('INVALID_ARGUMENTS', 'content: not valid base64');
    }
    const bytes = Buffer.from(content, encoding);
    if (bytes.length > MAX_WRITE_BYTES) throw new HomelabError('INVALID_ARGUMENTS', `content: ${bytes.length} bytes is more than the ${MAX_WRITE_BYTES} a write may carry`);
    const real = await confine(path, env.roots);
    const dir = dirname(real);
    const dirStat = await stat(dir).catch(() => undefined);
    if (!dirStat) {
      if (!create_dirs) throw new HomelabError('FILE_ERROR', `${path}: the directory ${dirname(path)} does not exist (pass create_dirs: true to create it)`);
      await mkdir(dir, { recursive: true }).catch((e) => {
        throw fileError(dirname(path), e);
      });
    } else if (!dirStat.isDirectory()) throw new HomelabError('FILE_ERROR', `${path}: ${dirname(path)} is not a directory`);
    const before = await lstat(real).catch(() => undefined);
    if (before && !before.isFile()) throw new HomelabError('FILE_ERROR', `${path}: is a ${typeOf(before)}, not a regular file`);
    const newMode = mode !== undefined ? parseInt(mode, 8) : before ? before.mode & 0o7777 : 0o644;
    const tmp = join(dir, `.${basename(real)}.${randomHex(6)}.tmp`);
    try {
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await chmod(tmp, newMode);
      if (before) await chown(tmp, before.uid, before.gid).catch(() => undefined); // only root may; keep going otherwise
      await rename(tmp, real);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw fileError(path, err);
    }
    // Make the rename itself durable.
    const dh = await open(dir, constants.O_RDONLY).catch(() => undefined);
    await dh?.sync().catch(() => undefined);
    await dh?.close();
    const data = { path, bytesWritten: bytes.length, mode: modeString(newMode), created: !before, previousSize: before?.size ?? null };
    return { data, text: `${before ? 'replaced' : 'created'} ${path} (${bytes.length} bytes, mode ${modeString(newMode)})` };
  },
});

interface Entry {
  name: string;
  path: string;
  type: string;
  size: number;
  mode: string;
  mtime: string;
  target?: string;
  entries?: Entry[];
}

export const listDirectory = defineTool<{ path: string; depth?: number }>({
  name: 'list_directory',
  title: 'List a directory',
  description: `Lists a directory under the allowed roots with each entry’s type, size, mode and mtime; depth > 1 descends into subdirectories (symlinks are shown, never followed). At most ${MAX_LIST_ENTRIES} entries; \`truncated\` says when more exist.`,
  inputSchema: {
    type: 'object',
    properties: {
      path: { type: 'string', minLength: 1, maxLength: 4096, description: 'Absolute path of the directory.' },
      depth: { type: 'integer', minimum: 1, maximum: MAX_DEPTH, description: 'Levels to list (default 1: this directory only).' },
    },
    required: ['path'],
    additionalProperties: false,
  },
  annotations: { title: 'List a directory', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ path, depth = 1 }, { env }) {
    const real = await confine(path, env.roots);
    const st = await stat(real).catch((e) => {
      throw fileError(path, e);
    });
    if (!st.isDirectory()) throw new HomelabError('FILE_ERROR', `${path}: is a ${typeOf(st)}, not a directory`);
    let count = 0;
    let truncated = false;
    const lines: string[] = [];
    const walk = async (dirReal: string, shown: string, level: number): Promise<Entry[]> => {
      const names = (await readdir(dirReal).catch((e) => {
        throw fileError(shown, e);
      })).sort();
      const out: Entry[] = [];
      for (const name of names) {
        if (count >= MAX_LIST_ENTRIES) {
          truncated = true;
          break;
        }
        count++;
        const full = join(dirReal, name);
        const shownPath = join(shown, name);
        const ls = await lstat(full).catch(() => undefined);
        if (!ls) continue; // vanished while listing
        const e: Entry = { name, path: shownPath, type: typeOf(ls), size: ls.size, mode: modeString(ls.mode), mtime: ls.mtime.toISOString() };
        if (ls.isSymbolicLink()) e.target = await readlink(full).catch(() => '?');
        lines.push(`${'  '.repeat(level - 1)}${e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'file' ? '-' : '?'} ${e.mode} ${String(e.size).padStart(10)} ${e.mtime.slice(0, 19)} ${name}${e.type === 'directory' ? '/' : ''}${e.target ? ` -> ${e.target}` : ''}`);
        if (ls.isDirectory() && level < depth) e.entries = await walk(full, shownPath, level + 1).catch(() => []);
        out.push(e);
      }
      return out;
    };
    const entries = await walk(real, path, 1);
    if (truncated) lines.push(`[... stopped at ${MAX_LIST_ENTRIES} entries]`);
    return { data: { path, entries, count, truncated }, text: lines.join('\n') || '(empty directory)' };
  },
});

export const files = defineCapability({
  name: 'files',
  description: 'read_file, write_file, list_directory under the configured roots',
  enabledByDefault: true,
  async probe(env) {
    const missing = [];
    for (const r of env.roots.lexical) if (!(await stat(r).catch(() => undefined))?.isDirectory()) missing.push(r);
    return missing.length ? { ok: false, reason: `root directories do not exist: ${missing.join(', ')}` } : { ok: true, detail: `roots: ${env.roots.lexical.join(', ')}` };
  },
  tools: [readFile, writeFile, listDirectory],
});
