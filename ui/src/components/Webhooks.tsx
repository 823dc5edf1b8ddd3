// Webhooks (administrators, `/api/webhooks`): each hook posts the chosen events as JSON to
// its URL (signed with HMAC-SHA256 when it has a secret, retried for an hour). The list shows
// each hook's events, whether a secret is set, an enable switch, the last delivery, and "Send
// test"; adding and editing happen in a dialog. The secret is write-only: the page only knows
// whether one is set.
import { useEffect, useState } from 'preact/hooks';
import { api, errText } from '../api';
import * as fmt from '../format';
import { Icon } from '../icons';
import { toast } from '../store';
import type { Delivery, NoticeKind, Webhook, WebhookInput } from '../types';
import { Modal } from './Dialogs';

const EVENTS: [NoticeKind, string][] = [
  ['added', 'added'],
  ['completed', 'completed'],
  ['error', 'error'],
  ['removed', 'removed'],
  ['disk_space', 'waiting for disk space'],
  ['rss_grabbed', 'RSS item grabbed'],
];

function DeliveryText({ d, test }: { d: Delivery; test?: boolean }) {
  if (!d.at) return <span class="muted">{test ? '' : 'nothing sent yet'}</span>;
  const what = d.event ? `“${d.event}”` : 'an event';
  const when = <span title={d.at}>{fmt.ago(d.at)}</span>;
  const status = d.status != null ? `HTTP ${d.status}` : 'no answer';
  if (d.delivered) {
    return (
      <span class="ok">
        {test ? 'Test delivered' : `Delivered ${what}`} ({status}) {when}
      </span>
    );
  }
  return (
    <span class="err">
      {test ? 'Test failed' : `Failed to deliver ${what}`} ({status}{d.error ? `: ${d.error}` : ''}) {when}
      {d.attempts > 1 ? `, after ${d.attempts} attempts` : ''}
    </span>
  );
}

function Editor({ hook, onDone }: { hook: Webhook | null; onDone: (changed: boolean) => void }) {
  const [url, setUrl] = useState(hook?.url || '');
  const [events, setEvents] = useState<NoticeKind[]>(hook ? [...hook.events] : ['completed', 'error']);
  const [secret, setSecret] = useState('');
  const [dropSecret, setDropSecret] = useState(false);
  const [enabled, setEnabled] = useState(hook ? hook.enabled : true);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    const u = url.trim();
    if (!/^https?:\/\/\S+$/i.test(u)) return setErr(`URL: “${u}” must be an http:// or https:// URL.`);
    if (!events.length) return setErr('Choose at least one event.');
    const body: WebhookInput = { url: u, events, enabled };
    if (secret) body.secret = secret;
    else if (dropSecret) body.secret = null;
    setBusy(true);
    try {
      if (hook) await api('PATCH', `/api/webhooks/${encodeURIComponent(hook.id)}`, body);
      else await api('POST', '/api/webhooks', body);
      onDone(true);
    } catch (x) {
      setErr(errText(x));
      setBusy(false);
    }
  };
  const toggle = (k: NoticeKind, on: boolean) => setEvents(on ? [...events, k] : events.filter((x) => x !== k));
  return (
    <Modal title={hook ? 'Edit webhook' : 'New webhook'} onClose={() => onDone(false)} testid="webhook-editor">
      <form onSubmit={save} noValidate>
        <div class="modal-body">
          <label class="field">
            URL
            <input class="mono" type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://example.org/hooks/pytorrentd" data-testid="webhook-url" data-autofocus />
          </label>
          <fieldset class="plain-set">
            <legend>Events</legend>
            <div class="check-list">
              {EVENTS.map(([k, l]) => (
                <label class="check" key={k}>
                  <input type="checkbox" checked={events.includes(k)} onChange={(e) => toggle(k, e.currentTarget.checked)} data-testid={'webhook-event-' + k} />
                  {l}
                </label>
              ))}
            </div>
          </fieldset>
          <label class="field">
            <span>Secret {hook?.has_secret && <span class="tag">set</span>}</span>
            <input type="password" autoComplete="new-password" value={secret} onInput={(e) => setSecret(e.currentTarget.value)} placeholder={hook?.has_secret ? 'unchanged (type to replace)' : 'none'} data-testid="webhook-secret" />
            <span class="help">Signs each body: the <code>X-Pytorrentd-Signature</code> header is <code>sha256=</code> and its HMAC-SHA256 with this key. It cannot be read back.</span>
          </label>
          {hook?.has_secret && !secret && (
            <label class="check">
              <input type="checkbox" checked={dropSecret} onChange={(e) => setDropSecret(e.currentTarget.checked)} data-testid="webhook-drop-secret" />
              Remove the secret
            </label>
          )}
          <label class="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} data-testid="webhook-enabled" />
            Enabled
          </label>
          {err && <p class="form-error" role="alert" data-testid="webhook-error">{err}</p>}
        </div>
        <div class="modal-foot">
          <button type="button" class="btn" onClick={() => onDone(false)}>Cancel</button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="webhook-save">{hook ? 'Save' : 'Add'}</button>
        </div>
      </form>
    </Modal>
  );
}

export function Webhooks() {
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [err, setErr] = useState('');
  const [editing, setEditing] = useState<Webhook | 'new' | null>(null);
  const [tests, setTests] = useState<Record<string, Delivery | 'sending' | string>>({});
  const load = () =>
    api<Webhook[]>('GET', '/api/webhooks').then(
      (h) => {
        setHooks(h);
        setErr('');
      },
      (e) => setErr(errText(e)),
    );
  useEffect(() => {
    load();
  }, []);
  const setEnabled = async (h: Webhook, on: boolean) => {
    try {
      await api('PATCH', `/api/webhooks/${encodeURIComponent(h.id)}`, { enabled: on });
      load();
    } catch (e) {
      toast('Could not change the webhook: ' + errText(e));
    }
  };
  const remove = async (h: Webhook) => {
    if (!window.confirm(`Delete the webhook to ${h.url}?`)) return;
    try {
      await api('DELETE', `/api/webhooks/${encodeURIComponent(h.id)}`);
      load();
    } catch (e) {
      toast('Could not delete the webhook: ' + errText(e));
    }
  };
  const test = async (h: Webhook) => {
    setTests((t) => ({ ...t, [h.id]: 'sending' }));
    try {
      const d = await api<Delivery>('POST', `/api/webhooks/${encodeURIComponent(h.id)}/test`);
      setTests((t) => ({ ...t, [h.id]: d }));
    } catch (e) {
      setTests((t) => ({ ...t, [h.id]: errText(e) }));
    }
  };
  return (
    <div class="card-form webhooks" data-testid="webhooks">
      <div class="inline-form">
        <h3>Webhooks</h3>
        <span class="spacer" />
        <button type="button" class="btn" onClick={() => setEditing('new')} data-testid="webhook-add">
          <Icon n="plus" size={12} /> Add webhook
        </button>
      </div>
      <p class="muted small">
        Each chosen event is sent to the URL as a JSON <code>POST</code> (<code>event</code>, <code>at</code>, <code>notice</code>, <code>torrent</code>), retried with growing delays for an hour while the receiver fails or does not answer 2xx.
      </p>
      {err && <p class="form-error" role="alert">{err}</p>}
      {hooks && !hooks.length && <p class="muted" data-testid="webhooks-empty">No webhook yet.</p>}
      {hooks && hooks.length > 0 && (
        <table class="plain list" data-testid="webhooks-table">
          <thead>
            <tr><th>URL</th><th>Events</th><th>Secret</th><th>Enabled</th><th>Last delivery</th><th /></tr>
          </thead>
          <tbody>
            {hooks.map((h) => {
              const t = tests[h.id];
              return (
                <tr key={h.id} data-hook={h.id}>
                  <td data-label="URL" class="mono wh-url"><span class="ellip" title={h.url}>{h.url}</span></td>
                  <td data-label="Events">{h.events.map((e) => <span key={e} class="tag">{e}</span>)}</td>
                  <td data-label="Secret">{h.has_secret ? <span class="tag lvl-full">set</span> : <span class="muted">none</span>}</td>
                  <td data-label="Enabled">
                    <input type="checkbox" checked={h.enabled} onChange={(e) => setEnabled(h, e.currentTarget.checked)} aria-label={'Enabled: ' + h.url} data-testid="webhook-toggle" />
                  </td>
                  <td data-label="Last delivery" data-testid="webhook-last">
                    <DeliveryText d={h.last_delivery} />
                    {t && (
                      <div data-testid="webhook-test-result" role="status">
                        {t === 'sending' ? <span class="muted">Sending a test…</span> : typeof t === 'string' ? <span class="err">Test failed: {t}</span> : <DeliveryText d={t} test />}
                      </div>
                    )}
                  </td>
                  <td class="r nowrap actions">
                    <button class="btn small" onClick={() => test(h)} disabled={t === 'sending'} aria-label={'Send test to ' + h.url} data-testid="webhook-test">Send test</button>{' '}
                    <button class="btn small" onClick={() => setEditing(h)} aria-label={'Edit the webhook to ' + h.url} data-testid="webhook-edit">Edit</button>{' '}
                    <button class="btn small danger" onClick={() => remove(h)} aria-label={'Delete the webhook to ' + h.url} data-testid="webhook-delete">Delete</button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {editing && (
        <Editor
          hook={editing === 'new' ? null : editing}
          onDone={(changed) => {
            setEditing(null);
            if (changed) load();
          }}
        />
      )}
    </div>
  );
}
