import { describe, expect, it } from 'vitest';
import { hostKeyMessage, hostKeyRefusal, refusedAddress } from './host-keys.ts';

// ssh's own words, as Ansible passes them on in an unreachable result (OpenSSH 9.2).
const UNKNOWN = 'Failed to connect to the host via ssh: No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\r\nHost key verification failed.';
const CHANGED = 'Failed to connect to the host via ssh: @@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nOffending ED25519 key in /k:1\r\nHost key for pi1.lan has changed and you have requested strict checking.\r\nHost key verification failed.';

describe('host key refusals', () => {
  it('tells unknown from changed keys, and other failures from both', () => {
    expect(hostKeyRefusal(UNKNOWN)).toBe('unknown');
    expect(hostKeyRefusal(CHANGED)).toBe('changed');
    expect(hostKeyRefusal('Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused')).toBeUndefined();
  });

  it('reads the address from ssh, else from the inventory', () => {
    expect(refusedAddress(UNKNOWN, 'x')).toEqual({ host: '127.0.0.1', port: 2222 });
    expect(refusedAddress(CHANGED, 'x')).toEqual({ host: 'pi1.lan', port: 22 });
    expect(refusedAddress('Host key verification failed.', '10.0.0.5', '2200')).toEqual({ host: '10.0.0.5', port: 2200 });
    expect(refusedAddress('Host key verification failed.', '10.0.0.5', '{{ p }}')).toEqual({ host: '10.0.0.5', port: 22 });
  });

  it('says what to do when the key could not be read', () => {
    expect(hostKeyMessage([{ host: 'nas', address: '10.0.0.5:22', kind: 'unknown' }])).toBe(
      'nas (10.0.0.5:22) has no pinned host key and ssh-keyscan could not read the one it offers; pin its key in hub.yaml under ansible.knownHosts (the line `ssh-keyscan -p PORT HOST` prints, checked on the host itself)',
    );
  });
});
