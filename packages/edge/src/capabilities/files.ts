/**
 * File tools, confined to the configured roots (see `paths.ts`): read with a cap, write
 * atomically (a temp file in the same directory, fsync, rename: a reader never sees half
 * a file, and a crash leaves the old one), and list with metadata.
 *
 * Every check is made on what was actually opened (`opened-path.ts`): a path resolved first
 * and opened later can be swapped for a symlink in between. Writes and listings then work
 * through the checked directory's descriptor (`/proc/self/fd/N/name`), never its path again.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HomelabError, randomHex } from '@homelab-mcp/core';
import { defineCapability, defineTool, type EdgeEnv, type ToolContext } from '../capability.ts';
import { checkOpened, checkReal, fdPath, type OpenedCheck } from '../opened-path.ts';
import { confine } from '../paths.ts';
import { NO_POLICY } from '../policy.ts';
import { bytesCost, keptBytes } from '../reply-size.ts';

const MAX_WRITE_BYTES = 64 * 1024 * 1024;
const MAX_LIST_ENTRIES = 5000;
const MAX_DEPTH = 8;
/** Bits `write_file` sets only when the edge runs with --allow-special-modes. */
const SPECIAL_BITS = 0o7000;

function fileError(path: string, err: unknown): HomelabError {
  if (err instanceof HomelabError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOENT: 'does not exist',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENOSPC: 'no space left on the device',
    EROFS: 'the filesystem is read-only',
    ELOOP: 'is a symlink (changed while being opened?)',
  };
  return new HomelabError('FILE_ERROR', `${path}: ${(code && why[code]) ?? (code || String(err))}`, { cause: err });
}

function modeString(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

function typeOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): string {
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
}

function checks(env: EdgeEnv, ctx: Pick<ToolContext, 'policy'>): OpenedCheck {
  return { roots: env.roots, policy: ctx.policy ?? NO_POLICY, privateFiles: env.privateFiles ?? [] };
}

async function openOrThrow(path: string, flags: number, shown: string): Promise<FileHandle> {
  return open(path, flags).catch((e) => {
    throw fileError(shown, e);
  });
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
      // Above 2^53 a JSON number is no longer exact, and Node reads a non-safe position as "from the start".
      offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Byte offset to start at (default 0).' },
      length: { type: 'integer', minimum: 0, description: 'Bytes to read at most.' },
      encoding: { type: 'string', enum: ['utf8', 'base64'], description: 'utf8 (default) for text, base64 for binary content.' },
    },
    required: ['path'],
    additionalProperties: false,
  },
  annotations: { title: 'Read a file', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler({ path, offset = 0, length, encoding = 'utf8' }, ctx) {
    const { env } = ctx;
    if (!Number.isSafeInteger(offset)) throw new HomelabError('INVALID_ARGUMENTS', `offset: must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (2^53 - 1), got ${offset}`);
    const real = await confine(path, env.roots);
    // Every position read at stays a safe integer: Node reads from the start at one that is not.
    const cap = Math.min(length ?? env.maxOutputBytes, env.maxOutputBytes, Number.MAX_SAFE_INTEGER - offset);
    // O_NOFOLLOW and O_NONBLOCK: the last component cannot be a symlink, and a FIFO cannot
    // hang the call. The directories above it are checked on the descriptor below.
    const fh = await openOrThrow(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK, path);
    try {
      const { st } = await checkOpened(fh, path, checks(env, ctx));
      if (!st.isFile()) throw new HomelabError('FILE_ERROR', `${path}: is a ${typeOf(st)}, not a regular file${st.isDirectory() ? ' (use list_directory)' : ''}`);
      const buf = Buffer.alloc(cap);
      let got = 0;
      // /proc and /sys files report size 0: read until EOF or the cap, never by size.
      while (got < cap) {
        const { bytesRead } = await fh.read(buf, got, cap - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      // Text is kept while its size in the answer fits the cap (control characters cost 6 bytes
      // as JSON): the rest is left for the next read, so memory stays bounded by the cap.
      if (encoding === 'utf8') got = keptBytes(buf.subarray(0, got), cap);
      const probe = Buffer.alloc(1);
      const more = (await fh.read(probe, 0, 1, offset + got)).bytesRead > 0;
      const bytes = buf.subarray(0, got);
      // Held in the reply budget until the answer is sent, so that many large reads at once wait.
      await ctx.lease?.claim(encoding === 'base64' ? Math.ceil(got / 3) * 4 : bytesCost(bytes));
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
      const next = offset + got;
      const data = { path, size: st.size, offset, bytesRead: got, eof: !more, encoding, mode: modeString(st.mode), mtime: st.mtime.toISOString(), content };
      return { data, text: more ? `${content}\n[... more after byte ${next}: read on with offset=${next}]` : content };
    } finally {
      await fh.close();
    }
  },
});

/** Parses `mode`: octal permissions, special bits only when the edge allows them. */
function parseMode(mode: string, allowSpecial: boolean): number {
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw new HomelabError('INVALID_ARGUMENTS', `mode: expected octal permissions such as "0644", got "${mode}"`);
  const bits = parseInt(mode, 8);
  if (bits & SPECIAL_BITS && !allowSpecial) {
    throw new HomelabError(
      'INVALID_ARGUMENTS',
      `mode: "${mode}" sets the setuid, setgid or sticky bit; this edge only writes modes up to 0777 (start it with --allow-special-modes to allow them)`,
    );
  }
  return bits;
}

/**
 * Opens directory `dir` (a real path from `confine`), creating what is missing when asked, and
 * checks the descriptor. Each created level is made and opened through its parent's descriptor
 * with O_NOFOLLOW, so no swap can lead the walk outside.
 */
async function openDirectory(dir: string, shown: string, create: boolean, check: OpenedCheck): Promise<FileHandle> {
  const dirFlags = constants.O_RDONLY | constants.O_DIRECTORY;
  let missing: string[] = [];
  let existing = dir;
  let fh: FileHandle | undefined;
  for (;;) {
    try {
      fh = await open(existing, dirFlags);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new HomelabError('FILE_ERROR', `${shown}: ${dirname(shown)} is not a directory`);
      if (code !== 'ENOENT') throw fileError(dirname(shown), err);
      if (!create) throw new HomelabError('FILE_ERROR', `${shown}: the directory ${dirname(shown)} does not exist (pass create_dirs: true to create it)`);
      const parent = dirname(existing);
      if (parent === existing) throw fileError(dirname(shown), err);
      missing = [basename(existing), ...missing];
      existing = parent;
    }
  }
  try {
    await checkOpened(fh, dirname(shown), check);
    for (const name of missing) {
      const child = join(fdPath(fh), name);
      await mkdir(child).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw fileError(dirname(shown), e);
      });
      const next = await openOrThrow(child, dirFlags | constants.O_NOFOLLOW, dirname(shown));
      await fh.close();
      fh = next;
      await checkOpened(fh, dirname(shown), check);
    }
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

export const writeFile = defineTool<{ path: string; content: string; encoding?: 'utf8' | 'base64'; mode?: string; create_dirs?: boolean }>({
  name: 'write_file',
  title: 'Write a file',
  description:
    'Writes a file under the allowed roots atomically (temp file + rename): readers see the old or the new content, never half. ' +
    'An existing file keeps its permissions and owner unless `mode` is given; setuid, setgid and sticky bits are never kept, ' +
    'and set only when the edge runs with --allow-special-modes.',
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
  async handler({ path, content, encoding = 'utf8', mode, create_dirs = false }, ctx) {
    const { env } = ctx;
    const requested = mode === undefined ? undefined : parseMode(mode, env.allowSpecialModes ?? false);
    if (encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(content.replace(/\s+/g, ''))) {
      throw new HomelabError('INVALID_ARGUMENTS', 'content: not valid base64');
    }
    const bytes = Buffer.from(content, encoding);
    if (bytes.length > MAX_WRITE_BYTES) throw new HomelabError('INVALID_ARGUMENTS', `content: ${bytes.length} bytes is more than the ${MAX_WRITE_BYTES} a write may carry`);
    const real = await confine(path, env.roots);
    const check = checks(env, ctx);
    const name = basename(real);
    const dh = await openDirectory(dirname(real), path, create_dirs, check);
    try {
      const dirReal = (await checkOpened(dh, dirname(path), check)).real;
      const target = join(fdPath(dh), name);
      const before = await lstat(target).catch(() => undefined);
      checkReal(join(dirReal, name), before, path, check);
      if (before && !before.isFile()) throw new HomelabError('FILE_ERROR', `${path}: is a ${typeOf(before)}, not a regular file`);
      // Special bits of the old file are dropped: an overwritten setuid program must not stay setuid.
      const newMode = requested ?? (before ? before.mode & 0o777 : 0o644);
      // The temp file is made in the checked directory (through its descriptor), never in a path
      // that might have been swapped; a long name is shortened to stay within NAME_MAX.
      const tmp = join(fdPath(dh), `.${name.slice(0, 200)}.${randomHex(6)}.tmp`);
      let created = false;
      try {
        const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        created = true;
        try {
          await fh.writeFile(bytes);
          if (before) await fh.chown(before.uid, before.gid).catch(() => undefined); // only root may; keep going otherwise
          // After chown, which clears setuid/setgid.
          await fh.chmod(newMode);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, target);
        created = false;
      } catch (err) {
        if (created) await unlink(tmp).catch(() => undefined);
        throw fileError(path, err);
      }
      // Make the rename itself durable.
      await dh.sync().catch(() => undefined);
      const data = { path, bytesWritten: bytes.length, mode: modeString(newMode), created: !before, previousSize: before?.size ?? null };
      return { data, text: `${before ? 'replaced' : 'created'} ${path} (${bytes.length} bytes, mode ${modeString(newMode)})` };
    } finally {
      await dh.close();
    }
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
  /** Not descended into: the hub's policy or the edge's own files. */
  denied?: true;
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
  async handler({ path, depth = 1 }, ctx) {
    const { env } = ctx;
    const check = checks(env, ctx);
    const real = await confine(path, env.roots);
    const dirFlags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK;
    const top = await open(real, dirFlags).catch(async (e: NodeJS.ErrnoException) => {
      const st = e.code === 'ENOTDIR' ? await lstat(real).catch(() => undefined) : undefined;
      throw st ? new HomelabError('FILE_ERROR', `${path}: is a ${typeOf(st)}, not a directory`) : fileError(path, e);
    });
    let count = 0;
    let truncated = false;
    const lines: string[] = [];
    const walk = async (dir: FileHandle, shown: string, level: number): Promise<Entry[]> => {
      const base = fdPath(dir);
      const names = (await readdir(base).catch((e) => {
        throw fileError(shown, e);
      })).sort();
      const out: Entry[] = [];
      for (const name of names) {
        if (count >= MAX_LIST_ENTRIES) {
          truncated = true;
          break;
        }
        count++;
        const full = join(base, name);
        const shownPath = join(shown, name);
        const ls = await lstat(full).catch(() => undefined);
        if (!ls) continue; // vanished while listing
        const e: Entry = { name, path: shownPath, type: typeOf(ls), size: ls.size, mode: modeString(ls.mode), mtime: ls.mtime.toISOString() };
        if (ls.isSymbolicLink()) e.target = await readlink(full).catch(() => '?');
        if (ls.isDirectory() && level < depth) {
          // Opened through the parent's descriptor without following links, then checked:
          // names are shown, but a denied directory is not descended into.
          const sub = await open(full, dirFlags | constants.O_NOFOLLOW).catch(() => undefined);
          if (sub) {
            try {
              await checkOpened(sub, shownPath, check);
              e.entries = await walk(sub, shownPath, level + 1).catch(() => []);
            } catch {
              e.denied = true;
            } finally {
              await sub.close();
            }
          }
        }
        lines.push(`${'  '.repeat(level - 1)}${e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'file' ? '-' : '?'} ${e.mode} ${String(e.size).padStart(10)} ${e.mtime.slice(0, 19)} ${name}${e.type === 'directory' ? '/' : ''}${e.target ? ` -> ${e.target}` : ''}${e.denied ? ' (not listed: denied)' : ''}`);
        out.push(e);
      }
      return out;
    };
    try {
      await checkOpened(top, path, check);
      const entries = await walk(top, path, 1);
      if (truncated) lines.push(`[... stopped at ${MAX_LIST_ENTRIES} entries]`);
      return { data: { path, entries, count, truncated }, text: lines.join('\n') || '(empty directory)' };
    } finally {
      await top.close();
    }
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
