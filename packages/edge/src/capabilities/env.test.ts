import { describe, expect, it } from 'vitest';
import { MASKED, maskValue } from './env.ts';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

describe('maskValue', () => {
  it('masks by name: the shared rules and the edge extras', () => {
    for (const name of ['DB_PASSWORD', 'HA_TOKEN', 'STRIPE_KEY', 'MQTT_PASSWD', 'SMTP_AUTH', 'PRIVATE', 'MY_CREDS', 'GOOGLE_CREDENTIALS', 'SESSION_COOKIE', 'PIN', 'ALARM_PIN', 'SIGNING_SALT', 'DISCORD_WEBHOOK_URL', 'SENTRY_DSN', 'SECRET_KEY_BASE', 'DB_PASSWORD_OLD', 'PRIVATE_KEY_PEM']) {
      expect(maskValue(name, 'plain-looking-value'), name).toBe(MASKED);
    }
  });

  it('masks whole values that are secrets by shape, whatever the name', () => {
    for (const [name, value] of [
      ['X', JWT],
      ['SHORT_JWT', 'eyJhbGc.eyJzdWI.sig'],
      ['NOTIFY', 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'],
      ['ALERTS', 'https://discord.com/api/webhooks/123/abc'],
      ['BOT', '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0'],
      ['BOT_URL', 'https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/sendMessage'],
      ['OPENAI', 'sk-proj-abcdefghijklmnopqrstuvwxyz012345'],
      ['GH', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
      ['KEYDATA', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----'],
      // Longer than the shared pattern looks (it bounds its lengths): masked here all the same.
      ['BIG_URL', `postgres://app:${'p'.repeat(600)}@db/x`],
    ] as const) {
      expect(maskValue(name, value), name).toBe(MASKED);
    }
  });

  it('shows a value with only its secret part redacted', () => {
    expect(maskValue('DATABASE_URL', 'postgres://app:PASSWORD@db/x')).toBe('postgres://app:[REDACTED]@db/x');
    expect(maskValue('REDIS_URL', 'redis://:PASSWORD@host:6379')).toBe('redis://:[REDACTED]@host:6379');
    expect(maskValue('CURL_HEADER', `Bearer ${JWT}`)).toBe('Bearer [REDACTED]');
  });

  it('leaves ordinary values alone', () => {
    for (const [name, value] of [
      ['PATH', '/usr/local/bin:/usr/bin:/bin'],
      ['HOME', '/root'],
      ['PWD', '/srv'],
      ['LANG', 'C.UTF-8'],
      ['HUB_URL', 'https://hub.example:8443/mcp'],
      ['SSH_AUTH_SOCK_DIR', '/run/user/1000'],
      ['GPIO_CHIP', 'gpiochip0'],
      ['XDG_SESSION_ID', '3'],
      ['TZ', 'Europe/Berlin'],
      ['TIME', '12:30:00'],
      ['LISTEN', '127.0.0.1:8222'],
    ] as const) {
      expect(maskValue(name, value), name).toBe(value);
    }
  });
});
