import { describe, expect, it } from 'vitest';
import { draftPathProblems, hiddenJinja, inertCopy } from './draft-check.ts';

describe('what an unreviewed draft may not make the hub load or evaluate', () => {
  it('refuses absolute, escaping and templated file references where Ansible loads files while parsing', () => {
    const draft = [
      '- import_playbook: /etc/shadow',
      '- hosts: all',
      '  vars_files:',
      '    - vars/ok.yml',
      '    - ../../data/token',
      '    - ["/root/.ssh/id_ed25519", fallback.yml]',
      '  roles:',
      '    - common',
      '    - role: "{{ lookup(\'pipe\', \'id\') }}"',
      '  tasks:',
      '    - import_tasks: tasks/ok.yml',
      '    - include_tasks: { file: /tmp/x.yml }',
      '    - ansible.builtin.import_role: { name: web, tasks_from: ../../../x }',
      '    - name: runtime file use is reviewed before it runs, not refused here',
      '      ansible.builtin.copy: { src: /etc/hosts, dest: /tmp/h }',
    ].join('\n');
    expect(draftPathProblems(draft)).toEqual([
      'import_playbook "/etc/shadow": is absolute: a draft may only use files of the repo',
      'vars_files "../../data/token": leaves the repo ("..")',
      'vars_files "/root/.ssh/id_ed25519": is absolute: a draft may only use files of the repo',
      'roles.role "{{ lookup(\'pipe\', \'id\') }}": is templated (Jinja), which the hub will not evaluate in an unreviewed draft',
      'include_tasks.file "/tmp/x.yml": is absolute: a draft may only use files of the repo',
      'ansible.builtin.import_role.tasks_from "../../../x": leaves the repo ("..")',
    ]);
    expect(draftPathProblems('- hosts: all\n  roles: [common]\n  tasks:\n    - import_tasks: t.yml\n')).toEqual([]);
    expect(draftPathProblems('- hosts: all\n  vars_files: [.git/config, ./.git/FETCH_HEAD]\n')).toEqual([
      'vars_files ".git/config": is inside .git (the clone\'s own files, its remote URL among them), not a file of the repo',
      'vars_files "./.git/FETCH_HEAD": is inside .git (the clone\'s own files, its remote URL among them), not a file of the repo',
    ]);
  });

  it('makes every Jinja expression inert for the syntax check, keeping line numbers', () => {
    const text = `- hosts: "{{ lookup('pipe', 'touch /tmp/x') }}all"\n  tasks:\n    - debug: msg="{% for x in y %}\n{{ x }}{% endfor %}"\n    # {# c #} {{ unclosed\n`;
    const inert = inertCopy(text);
    expect(inert).not.toMatch(/\{\{|\{%|\{#|lookup/);
    expect(inert.split('\n')).toHaveLength(text.split('\n').length);
    expect(inert).toContain('- hosts: "JINJAall"');
  });
});

describe('Jinja hidden from the text but made by YAML', () => {
  it('finds Jinja written with YAML escapes or a double-quoted line continuation', () => {
    expect(hiddenJinja('- hosts: "\\x7b{ lookup(\'pipe\', \'id\') }}all"\n  tasks: []\n')).toEqual([
      'line 1: the YAML escape "\\x7b" writes "{", "%" or "#", which could make Jinja the hub would evaluate',
      '[0].hosts: "{{ lookup(\'pipe\', \'id\') }}all" holds Jinja written with YAML escapes or a line continuation',
    ]);
    expect(hiddenJinja('- hosts: "{\\\n    { lookup(\'pipe\', \'id\') }}"\n')).toEqual(['[0].hosts: "{{ lookup(\'pipe\', \'id\') }}" holds Jinja written with YAML escapes or a line continuation']);
    expect(hiddenJinja('- hosts: all\n  vars:\n    "\\u007b% x %}": 1\n')).toHaveLength(2);
  });
  it('lets plain Jinja (made inert) and ordinary text through', () => {
    expect(hiddenJinja('- hosts: "{{ group }}"\n  tasks:\n    - debug: msg="a { b } c \\n"\n')).toEqual([]);
  });
});
