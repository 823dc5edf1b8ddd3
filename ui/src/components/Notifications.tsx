// The bell in the top bar: the unread count, and a panel with the newest notices (icon by
// kind, message, time), "Mark all as read" and the browser-notification switch.
import { useRef, useState } from 'preact/hooks';
import { errText } from '../api';
import * as fmt from '../format';
import { useDismiss } from '../hooks';
import { Icon } from '../icons';
import { browserPermission, KIND_TITLE, loadNotices, markAllRead, notices, setBrowserNotify } from '../notices';
import { toast, useStore } from '../store';
import type { NoticeKind } from '../types';

const KIND_ICON: Record<NoticeKind, string> = {
  added: 'plus',
  completed: 'check',
  error: 'alert',
  removed: 'trash',
  disk_space: 'disk',
  rss_grabbed: 'rss',
};

export function Bell() {
  const unread = useStore(notices, (s) => s.unread);
  const list = useStore(notices, (s) => s.list);
  const loaded = useStore(notices, (s) => s.loaded);
  const browser = useStore(notices, (s) => s.browser);
  const [open, setOpen] = useState(false);
  const [msg, setMsg] = useState('');
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(open, () => setOpen(false), ref);
  const toggle = () => {
    if (!open) loadNotices();
    setMsg('');
    setOpen(!open);
  };
  const readAll = async () => {
    try {
      await markAllRead();
    } catch (e) {
      toast('Could not mark the notifications as read: ' + errText(e));
    }
  };
  const switchBrowser = async (on: boolean) => {
    setMsg(await setBrowserNotify(on));
  };
  const perm = browserPermission();
  const name = unread ? `Notifications: ${unread} unread` : 'Notifications';
  return (
    <div class="menu-wrap" ref={ref}>
      <button class="btn icon ghost bell" aria-label={name} data-tip={name} aria-expanded={open} aria-haspopup="dialog" onClick={toggle} data-testid="bell">
        <Icon n="bell" />
        {unread > 0 && (
          <span class="bell-count" data-testid="bell-count" aria-hidden="true">
            {unread > 99 ? '99+' : unread}
          </span>
        )}
      </button>
      {open && (
        <div class="menu right notes" role="dialog" aria-label="Notifications" data-testid="notes-panel">
          <div class="notes-head">
            <b>Notifications</b>
            <span class="spacer" />
            <button class="btn small" disabled={!unread} onClick={readAll} data-testid="notes-read-all">
              Mark all as read
            </button>
          </div>
          {!list.length ? (
            <p class="muted pad">{loaded ? 'Nothing yet: adds, completed downloads, errors and removals show here.' : 'Loading…'}</p>
          ) : (
            <ul class="notes-list" data-testid="notes-list">
              {list.map((n, i) => (
                <li key={n.id} class={'note-item k-' + n.event + (i < unread ? ' unread' : '')} data-event={n.event}>
                  <Icon n={KIND_ICON[n.event] || 'info'} />
                  <span class="note-text">
                    <span class="note-msg">{n.message}</span>
                    <span class="muted small" title={fmt.date(n.at)}>
                      {KIND_TITLE[n.event] || n.event} · {fmt.ago(n.at)}
                      {i < unread && <span class="sr-only"> (unread)</span>}
                    </span>
                  </span>
                </li>
              ))}
            </ul>
          )}
          <div class="notes-foot">
            <label class="check">
              <input type="checkbox" checked={browser && perm === 'granted'} disabled={perm === 'unsupported'} onChange={(e) => switchBrowser(e.currentTarget.checked)} data-testid="notify-browser" />
              Notify me in the browser
            </label>
            <span class="muted small">
              {perm === 'unsupported'
                ? 'Not available here: browsers allow notifications on HTTPS or localhost only.'
                : perm === 'denied'
                  ? 'Blocked for this site in the browser settings.'
                  : 'Completed downloads, errors, disk space and RSS grabs, while this page is open.'}
            </span>
            {msg && <p class="form-error" role="alert">{msg}</p>}
          </div>
        </div>
      )}
    </div>
  );
}
