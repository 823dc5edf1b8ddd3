// Notifications (`/api/me/notifications`): the bell in the top bar. The list is fetched at
// start, when the feed (re)connects and when the panel opens; new notices arrive over the
// feed (`notification`, sent to the rooms of the profiles the page subscribes to) and bump
// the unread count at once. Optionally each completed/error/disk-space/RSS notice is also
// shown as a browser notification (`Notification` API; the choice is kept in this browser).
import { get, post } from './api';
import { Store } from './store';
import type { Notice, NoticeKind, Notifications } from './types';

export const notices = new Store<{ list: Notice[]; unread: number; loaded: boolean; browser: boolean }>({
  list: [],
  unread: 0,
  loaded: false,
  browser: localStorage.getItem('pt.notify') === '1',
});

export async function loadNotices() {
  try {
    const n = await get<Notifications>('/api/me/notifications');
    notices.set({ list: n.entries, unread: n.unread, loaded: true });
  } catch {
    /* the bell keeps what it had */
  }
}

/** Marks everything shown as read (up to the newest entry, so a notice arriving meanwhile
 * stays unread). */
export async function markAllRead() {
  const newest = notices.get().list[0];
  await post('/api/me/notifications/read', newest ? { up_to: newest.id } : {});
  // Notices that arrived during the request stay unread (they are above `newest`).
  notices.update((s) => ({ unread: newest ? Math.max(0, s.list.findIndex((n) => n.id === newest.id)) : 0 }));
}

/** The kinds worth a browser notification (the others are routine). */
const POP: NoticeKind[] = ['completed', 'error', 'disk_space', 'rss_grabbed'];

export const KIND_TITLE: Record<NoticeKind, string> = {
  added: 'Torrent added',
  completed: 'Download completed',
  error: 'Torrent error',
  removed: 'Torrent removed',
  disk_space: 'Waiting for disk space',
  rss_grabbed: 'RSS item grabbed',
};

/** A notice from the feed. */
export function onNotice(n: Notice) {
  const s = notices.get();
  if (s.list.some((x) => x.id === n.id)) return;
  notices.set({ list: [n, ...s.list].slice(0, 100), unread: s.unread + 1 });
  if (s.browser && POP.includes(n.event) && browserPermission() === 'granted') {
    try {
      new Notification(`${KIND_TITLE[n.event]}: ${n.name}`, { body: n.message, tag: n.id });
    } catch {
      /* some browsers only allow notifications from a service worker */
    }
  }
}

export function browserPermission(): NotificationPermission | 'unsupported' {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

/** Switches browser notifications on (asking for the permission) or off; returns why not
 * when it could not switch them on. */
export async function setBrowserNotify(on: boolean): Promise<string> {
  if (!on) {
    localStorage.setItem('pt.notify', '0');
    notices.set({ browser: false });
    return '';
  }
  if (browserPermission() === 'unsupported') return 'This browser cannot show notifications (they need HTTPS or localhost).';
  let p = Notification.permission;
  if (p === 'default') p = await Notification.requestPermission();
  if (p !== 'granted') return 'The browser refused: allow notifications for this site in its settings.';
  localStorage.setItem('pt.notify', '1');
  notices.set({ browser: true });
  return '';
}
