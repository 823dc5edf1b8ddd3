// Who may open the live feed (README "Authentication" and "Live feed"): the Socket.IO handshake uses the REST resolver
// (session cookie, proxy header from a trusted proxy, bypass host, disabled auth, API token
// in the handshake `auth` payload) and the origin check; a refusal reaches the official
// client as `connect_error` whose message says why — with the default transports
// (polling, then upgrade: what browsers use) as well as with websocket only.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, connect, connectOk, killAll, login, startDaemon,
} from './lib/harness.mjs';

const TRANSPORTS = {
  'default transports (polling → websocket)': undefined,
  'websocket only': ['websocket'],
};

after(killAll);

/** Connects, expects a refusal, returns its message. */
async function refusal(url, opts) {
  const c = connect(url, opts);
  try {
    const o = await c.outcome();
    assert.equal(o.ok, false, 'the handshake must be refused');
    assert.equal(c.all('hello').length, 0, 'no hello for a refused socket');
    return o.error.message;
  } finally {
    c.close();
  }
}

describe('local provider', () => {
  let d; let cookie; let password;
  const extraOrigin = 'http://ui.example.test:8443';

  before(async () => {
    d = await startDaemon({ env: { PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS: extraOrigin } });
    password = await d.adminPassword();
    cookie = await login(d.url, 'admin', password);
  });
  after(() => d?.stop());

  for (const [label, transports] of Object.entries(TRANSPORTS)) {
    describe(label, () => {
      test('session cookie → hello with the user, its profiles and the version', async () => {
        const c = await connectOk(d.url, { transports, headers: { cookie } });
        try {
          const hello = c.all('hello')[0].data;
          assert.deepEqual(hello.user, { username: 'admin', role: 'admin', bypass: false });
          assert.ok(Array.isArray(hello.profiles));
          const def = hello.profiles.find((p) => p.id === 'default');
          assert.ok(def, `default profile in hello: ${JSON.stringify(hello.profiles)}`);
          assert.equal(def.level, 'admin');
          assert.equal(typeof hello.version, 'string');
          assert.ok(hello.version.length > 0);
          if (!transports) {
            // the default client upgrades polling to websocket
            await c.next('stats', { timeout: 5_000 });
          }
        } finally {
          c.close();
        }
      });

      test('no identity → connect_error "not logged in"', async () => {
        const msg = await refusal(d.url, { transports });
        assert.match(msg, /not logged in/);
      });

      test('unknown session cookie → connect_error "not logged in"', async () => {
        const msg = await refusal(d.url, { transports, headers: { cookie: 'pytorrent_session=deadbeef' } });
        assert.match(msg, /not logged in/);
      });

      test('forbidden origin → connect_error naming the origin and the variable', async () => {
        const msg = await refusal(d.url, { transports, headers: { cookie, origin: 'http://evil.example' } });
        assert.equal(msg, "origin 'http://evil.example' is not allowed; add it to PYTORRENT_SOCKETIO_CORS_ALLOWED_ORIGINS");
      });

      test('own origin and listed origins are accepted', async () => {
        for (const origin of [d.url, extraOrigin]) {
          const c = await connectOk(d.url, { transports, headers: { cookie, origin } });
          c.close();
        }
      });

      test('API token in the handshake auth payload', async () => {
        const t = await api(d.url, 'POST', '/api/tokens', { cookie, body: { name: `feed-${Math.random()}` } });
        assert.match(t.token, /^pt_/);
        const c = connect(d.url, { transports, auth: { token: t.token } });
        try {
          const o = await c.outcome();
          assert.deepEqual(o, { ok: true }, `token handshake refused: ${JSON.stringify(o.error)}`);
          const hello = await c.next('hello');
          assert.equal(hello.user.username, 'admin');
          // the socket must stay usable after the handshake (polling requests / upgrade)
          const ack = await c.emitAck('subscribe', { profile: 'default' });
          assert.deepEqual(ack, { ok: true });
        } finally {
          c.close();
        }
      });

      test('revoked or bogus API token → connect_error', async () => {
        const msg = await refusal(d.url, { transports, auth: { token: 'pt_0000000000000000000000000000000000000000000000000000000000000000' } });
        assert.match(msg, /API token is invalid or revoked/);
      });
    });
  }
});

describe('tinyauth provider (trusted proxy 127.0.0.2 only)', () => {
  let d;
  before(async () => {
    d = await startDaemon({
      env: {
        PYTORRENT_AUTH_PROVIDER: 'tinyauth',
        PYTORRENT_AUTH_PROXY_AUTO_CREATE: 'true',
        PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE: 'admin',
        PYTORRENT_AUTH_TRUSTED_PROXIES: '127.0.0.2/32',
      },
    });
  });
  after(() => d?.stop());

  for (const [label, transports] of Object.entries(TRANSPORTS)) {
    describe(label, () => {
      test('Remote-User header from the trusted proxy → that user', async () => {
        const c = await connectOk(d.url, { transports, localAddress: '127.0.0.2', headers: { 'Remote-User': 'alice' } });
        try {
          assert.deepEqual(c.all('hello')[0].data.user, { username: 'alice', role: 'admin', bypass: false });
          assert.deepEqual(await c.emitAck('subscribe', { profile: 'default' }), { ok: true });
          await c.next('torrents:snapshot');
        } finally {
          c.close();
        }
      });

      test('trusted proxy without the header → connect_error naming the header', async () => {
        const msg = await refusal(d.url, { transports, localAddress: '127.0.0.2' });
        assert.match(msg, /did not send the Remote-User header/);
      });

      test('header from an untrusted peer (127.0.0.3) → connect_error', async () => {
        const msg = await refusal(d.url, { transports, localAddress: '127.0.0.3', headers: { 'Remote-User': 'alice' } });
        assert.match(msg, /did not come through a trusted proxy/);
        assert.match(msg, /PYTORRENT_AUTH_TRUSTED_PROXIES/);
      });
    });
  }
});

describe('bypass host', () => {
  let d;
  before(async () => {
    d = await startDaemon({ env: { PYTORRENT_AUTH_BYPASS_HOSTS: '127.0.0.1' } });
  });
  after(() => d?.stop());

  for (const [label, transports] of Object.entries(TRANSPORTS)) {
    describe(label, () => {
      test('Host 127.0.0.1 from loopback → the bypass user', async () => {
        const c = await connectOk(d.url, { transports });
        try {
          assert.deepEqual(c.all('hello')[0].data.user, { username: 'admin', role: 'admin', bypass: true });
        } finally {
          c.close();
        }
      });

      test('another Host (localhost) is not bypassed', async () => {
        const msg = await refusal(`http://localhost:${d.port}`, { transports });
        assert.match(msg, /not logged in/);
      });

      test('a request relayed by a proxy (X-Forwarded-For) is not bypassed', async () => {
        const msg = await refusal(d.url, { transports, headers: { 'X-Forwarded-For': '192.168.1.50' } });
        assert.match(msg, /not logged in/);
      });
    });
  }
});

describe('auth disabled', () => {
  let d;
  before(async () => {
    d = await startDaemon({ env: { PYTORRENT_AUTH_ENABLE: 'false' } });
  });
  after(() => d?.stop());

  for (const [label, transports] of Object.entries(TRANSPORTS)) {
    test(`${label}: anyone is the bypass admin`, async () => {
      const c = await connectOk(d.url, { transports });
      try {
        const { user } = c.all('hello')[0].data;
        assert.equal(user.username, 'admin');
        assert.equal(user.role, 'admin');
        assert.deepEqual(await c.emitAck('subscribe', { profile: 'default' }), { ok: true });
      } finally {
        c.close();
      }
    });
  }
});
