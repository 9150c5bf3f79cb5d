/**
 * The stdout callback plugin every hub run of ansible-playbook loads: one JSON line per event on
 * the file descriptor named by `HOMELAB_EVENTS_FD`. ansible-core has no machine-readable stdout
 * callback of its own (`json` lives in the ansible.posix collection, not installed with it), and
 * the default one prints for people.
 *
 * What it writes, and only that: play and task names, per host the status with a short message
 * (msg, rc, a cut stderr), the diff as Ansible's own renderer prints it (cut), and the stats.
 * Never a result's `invocation` (the module arguments, where passwords travel), never the
 * result of a task with `no_log` beyond Ansible's censored text. Redaction of the values the hub
 * knows to be secret happens on the hub's side, on everything read back.
 */

/** The plugin's name, for ANSIBLE_STDOUT_CALLBACK. */
export const CALLBACK_NAME = 'homelab_events';

/** Python source of the plugin, written as `<dir>/homelab_events.py`. */
export const CALLBACK_SOURCE = String.raw`# Written by the homelab-mcp hub for one run; removed after it.
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: homelab_events
    type: stdout
    short_description: JSON lines for the homelab-mcp hub
    description: One JSON object per event, on the file descriptor in HOMELAB_EVENTS_FD.
'''

MAX_TEXT = 4096
MAX_DIFF = 16384
HIDDEN = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
_out = None


def _cut(value, limit=MAX_TEXT):
    if value is None:
        return None
    if not isinstance(value, str):
        try:
            value = json.dumps(value, default=str)
        except Exception:
            value = str(value)
    if len(value) > limit:
        return value[:limit] + '\u2026[cut %d chars]' % (len(value) - limit)
    return value


def _no_log(r):
    return bool(r.get('_ansible_no_log')) or 'censored' in r


def _message(r, failed=False):
    """msg, then a failed command's rc and stderr: what tells a person why."""
    if _no_log(r):
        return HIDDEN
    parts = []
    msg = r.get('msg')
    if msg:
        parts.append(_cut(msg))
    # The strategy has taken 'failed' out of the result by the time a callback sees it.
    if failed or r.get('failed') or r.get('unreachable'):
        if r.get('rc') not in (None, 0):
            parts.append('rc=%s' % r.get('rc'))
        stderr = r.get('stderr') or r.get('module_stderr')
        if stderr:
            parts.append('stderr: ' + _cut(stderr, 1024))
        elif r.get('module_stdout') and not msg:
            parts.append('stdout: ' + _cut(r.get('module_stdout'), 1024))
    if not msg and isinstance(r.get('results'), list):
        for item in r['results']:
            if isinstance(item, dict) and item.get('failed'):
                parts.append('item: ' + _message(item, True))
                break
    return _cut(' '.join(p for p in parts if p))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'homelab_events'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        global _out
        if _out is None:
            _out = os.fdopen(int(os.environ['HOMELAB_EVENTS_FD']), 'w', buffering=1, encoding='utf-8', errors='replace')
        self._task = ''

    def _emit(self, event):
        try:
            _out.write(json.dumps(event, default=str) + '\n')
        except Exception:
            pass

    def _host_address(self, result):
        try:
            v = result._host.vars
            return {'address': str(v.get('ansible_host') or result._host.get_name()), 'port': str(v.get('ansible_port') or '')}
        except Exception:
            return {}

    def _result(self, result, status, **extra):
        r = result._result
        event = {'e': 'host', 'status': status, 'host': result._host.get_name(), 'task': result._task.get_name()}
        event.update(extra)
        if status != 'ok' or r.get('msg'):
            event['msg'] = _message(r, status in ('failed', 'unreachable'))
        if status == 'unreachable':
            event.update(self._host_address(result))
        self._emit(event)

    def v2_playbook_on_play_start(self, play):
        self._emit({'e': 'play', 'name': play.get_name().strip()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit({'e': 'task', 'name': task.get_name().strip()})

    def v2_playbook_on_handler_task_start(self, task):
        self._emit({'e': 'task', 'name': task.get_name().strip(), 'handler': True})

    def v2_playbook_on_no_hosts_matched(self):
        self._emit({'e': 'warning', 'msg': 'no hosts matched'})

    def v2_runner_on_ok(self, result):
        self._result(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, 'failed', ignored=bool(ignore_errors))

    def v2_runner_on_skipped(self, result):
        self._emit({'e': 'host', 'status': 'skipped', 'host': result._host.get_name(), 'task': result._task.get_name()})

    def v2_runner_on_unreachable(self, result):
        self._result(result, 'unreachable')

    def v2_on_file_diff(self, result):
        r = result._result
        items = r['results'] if result._task.loop and isinstance(r.get('results'), list) else [r]
        for item in items:
            if not isinstance(item, dict) or _no_log(item) or not item.get('diff') or not item.get('changed'):
                continue
            try:
                text = self._get_diff(item['diff'])
            except Exception as e:
                text = 'diff not readable: %s' % e
            if text:
                self._emit({'e': 'diff', 'host': result._host.get_name(), 'task': result._task.get_name(), 'text': _cut(text, MAX_DIFF)})

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for h in sorted(stats.processed.keys()):
            s = stats.summarize(h)
            hosts[h] = {k: s.get(k, 0) for k in ('ok', 'changed', 'unreachable', 'failures', 'skipped', 'rescued', 'ignored')}
        self._emit({'e': 'stats', 'hosts': hosts})
`;
