import { describe, expect, it } from 'vitest';
import { redactText, safeUrl } from './redact.ts';
import { isSecretKey } from './secret-keys.ts';

describe('isSecretKey: the names the red team found missing (issue #10)', () => {
  it.each(['AUTH', 'SMTP_PASSWD', 'MQTT_PASSWD', 'KEY', 'TOKEN_FILE_CONTENT', 'SMTP_AUTH', 'MY_CREDS', 'SESSION_COOKIE', 'PIN', 'SIGNING_SALT', 'PRIVATE', 'SIM_PIN', 'SALT'])('%s is secret', (k) => {
    expect(isSecretKey(k)).toBe(true);
  });
  it.each(['compass', 'author', 'AUTHOR', 'keyboard', 'KEYBOARD', 'pinned', 'PINNED', 'spin', 'SPIN', 'basalt', 'key', 'auth', 'pin', 'private', 'oauth', 'OAUTH', 'AUTH_TYPE', 'TOKEN_FILE', 'PWD', 'path'])('%s is not secret', (k) => {
    expect(isSecretKey(k)).toBe(false);
  });
});

describe('redactText: program flags, env names and token shapes', () => {
  it.each([
    ['smbclient //nas/share -U alice%s3cret -c ls', 'smbclient //nas/share -U alice%[REDACTED] -c ls'],
    ['smbclient //nas/share --user=alice%s3cret', 'smbclient //nas/share --user=alice%[REDACTED]'],
    ['docker login -u me -p s3cret ghcr.io', 'docker login -u me -p [REDACTED] ghcr.io'],
    ['docker login -u me --password s3cret ghcr.io', 'docker login -u me --password [REDACTED] ghcr.io'],
    ['podman login -ps3cret quay.io', 'podman login -p[REDACTED] quay.io'],
    ['redis-cli -h db -a s3cret ping', 'redis-cli -h db -a [REDACTED] ping'],
    ['ldapsearch -x -D cn=admin -w s3cret -b dc=x', 'ldapsearch -x -D cn=admin -w [REDACTED] -b dc=x'],
    ['ldapmodify -D cn=admin -ws3cret -f a.ldif', 'ldapmodify -D cn=admin -w[REDACTED] -f a.ldif'],
    ['ldapadd -w "s3 cret" -f a', 'ldapadd -w "[REDACTED]" -f a'],
    ['ldapdelete -w s3cret cn=x', 'ldapdelete -w [REDACTED] cn=x'],
    ['AUTH=s3cret KEY=s3cret2 PIN=1234 PRIVATE=s3cret3 ./run', 'AUTH=[REDACTED] KEY=[REDACTED] PIN=[REDACTED] PRIVATE=[REDACTED] ./run'],
    ['SMTP_PASSWD=s3cret TOKEN_FILE_CONTENT=abc SIGNING_SALT=x1 MY_CREDS=u:p SESSION_COOKIE=c1', 'SMTP_PASSWD=[REDACTED] TOKEN_FILE_CONTENT=[REDACTED] SIGNING_SALT=[REDACTED] MY_CREDS=[REDACTED] SESSION_COOKIE=[REDACTED]'],
    ['curl -d x https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX', 'curl -d x https://hooks.slack.com/services/[REDACTED]'],
    ['redis-cli -h db AUTH s3cret', 'redis-cli -h db AUTH [REDACTED]'],
    ['redis-cli AUTH default s3cret', 'redis-cli AUTH default [REDACTED]'],
    ['mosquitto_pub -h b -u u -P s3cret -t t -m x', 'mosquitto_pub -h b -u u -P [REDACTED] -t t -m x'],
    ['zip -P s3cret a.zip f', 'zip -P [REDACTED] a.zip f'],
    ['7z a -ps3cret a.7z f', '7z a -p[REDACTED] a.7z f'],
    ['openssl enc -aes-256-cbc -k s3cret -in f', 'openssl enc -aes-256-cbc -k [REDACTED] -in f'],
    ['useradd -m -p s3cret bob', 'useradd -m -p [REDACTED] bob'],
    ['ssh-keygen -t ed25519 -N s3cret -f k', 'ssh-keygen -t ed25519 -N [REDACTED] -f k'],
    ['lftp -u bob,s3cret ftp://nas', 'lftp -u bob,[REDACTED] ftp://nas'],
    ['vault login s3cret', 'vault login [REDACTED]'],
    ['vault login -no-print s3cret', 'vault login -no-print [REDACTED]'],
    ['nmcli dev wifi connect Home password s3cret', 'nmcli dev wifi connect Home password [REDACTED]'],
    ['wpa_passphrase Home s3cret', 'wpa_passphrase Home [REDACTED]'],
    ['aws configure set aws_secret_access_key s3cret', 'aws configure set aws_secret_access_key [REDACTED]'],
    ['curl -H \'Authorization: Digest username="u", response="0123abcd0123abcd"\' x', 'curl -H \'Authorization: [REDACTED]"u", response="[REDACTED]"\' x'],
    ['curl "https://acct.blob.core.windows.net/c/f?sv=2020&sig=s3cret&se=1"', 'curl "https://acct.blob.core.windows.net/c/f?sv=2020&sig=[REDACTED]&se=1"'],
    ['open https://app.example/cb?code=s3cret&state=x', 'open https://app.example/cb?code=[REDACTED]&state=x'],
  ])('%s', (input, out) => {
    expect(redactText(input)).toBe(out);
  });

  it.each([
    ['redis-cli -p 6380 ping'],
    ['docker run -p 8080:80 nginx'],
    ['docker login --password-stdin ghcr.io'],
    ['ldapsearch -x -s sub -b dc=x'],
    ['curl -u alice https://x.invalid'],
    ['echo compass author keyboard pinned spin'],
    ['key=value auth=basic'],
    ['smbclient -L //nas -U alice'],
    ['zip -r a.zip dir'],
    ['aws configure set region eu-west-1'],
    ['useradd -m bob'],
    ['echo exit code=0'],
  ])('leaves %s alone', (input) => {
    expect(redactText(input)).toBe(input);
  });

  it('keeps the token shapes it had', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    const shapes = [jwt, `ghp_${'a'.repeat(36)}`, `github_pat_${'A'.repeat(40)}`, `sk-${'x'.repeat(40)}`, 'xoxb-1234567890-abcdef', 'xoxp-1234567890-abcdef', 'xoxa-1234567890-abcdef', 'AKIAIOSFODNN7EXAMPLE'];
    for (const t of shapes) expect(redactText(`echo ${t} done`), t).toBe('echo [REDACTED] done');
  });
});

describe('safeUrl', () => {
  it('gives the same answer from its cache, and strips credentials, query and fragment every time', () => {
    for (let i = 0; i < 3; i++) {
      expect(safeUrl('http://pi:8222/mcp')).toBe('http://pi:8222/mcp');
      expect(safeUrl('https://u:p@pve1:8006/api2/json/nodes?x=1#f')).toBe('https://pve1:8006/api2/json/nodes');
      expect(safeUrl(new URL('http://h/a?token=s'))).toBe('http://h/a');
      expect(safeUrl('not a url')).toBe('[invalid url]');
    }
    // Bounded: many distinct URLs still answer right.
    for (let i = 0; i < 300; i++) expect(safeUrl(`http://h${i}:1/p`)).toBe(`http://h${i}:1/p`);
  });
});

describe('safeUrl cache bounds', () => {
  it('keeps no long URL (128 of them could pin hundreds of MB): each is parsed again', () => {
    const RealURL = globalThis.URL;
    let parsed = 0;
    // Counts the parses safeUrl makes (it constructs the global URL).
    globalThis.URL = class extends RealURL {
      constructor(...a: ConstructorParameters<typeof URL>) {
        super(...a);
        parsed++;
      }
    } as typeof URL;
    try {
      const long = `http://h:1/${'p'.repeat(100_000)}`;
      expect(safeUrl(long)).toBe(long);
      expect(safeUrl(long)).toBe(long);
      expect(parsed).toBe(2);
      // A short one is still remembered.
      parsed = 0;
      expect(safeUrl('http://short-url-cache:2/x')).toBe('http://short-url-cache:2/x');
      expect(safeUrl('http://short-url-cache:2/x')).toBe('http://short-url-cache:2/x');
      expect(parsed).toBe(1);
    } finally {
      globalThis.URL = RealURL;
    }
  });
});
