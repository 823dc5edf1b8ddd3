import { useEffect, useRef, useState } from 'preact/hooks';
import { errText, get } from './api';

export function useMedia(q: string): boolean {
  const [m, setM] = useState(() => window.matchMedia(q).matches);
  useEffect(() => {
    const mq = window.matchMedia(q);
    const f = () => setM(mq.matches);
    mq.addEventListener('change', f);
    f();
    return () => mq.removeEventListener('change', f);
  }, [q]);
  return m;
}

export const PHONE = '(max-width: 720px)';

/** Closes a popup when clicking outside `ref` or pressing Escape. */
export function useDismiss(open: boolean, close: () => void, ref: { current: HTMLElement | null }) {
  useEffect(() => {
    if (!open) return;
    const down = (e: Event) => {
      if (ref.current && !ref.current.contains(e.target as Node)) close();
    };
    const key = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        close();
      }
    };
    document.addEventListener('pointerdown', down, true);
    document.addEventListener('keydown', key, true);
    return () => {
      document.removeEventListener('pointerdown', down, true);
      document.removeEventListener('keydown', key, true);
    };
  }, [open]);
}

import { Component, type ComponentChild } from 'preact';

/** A memoized component without preact/compat (whose vnode hook costs on every element). */
export function memo<P extends object>(render: (p: P) => ComponentChild, same: (a: P, b: P) => boolean) {
  return class Memo extends Component<P> {
    shouldComponentUpdate(next: P) {
      return !same(this.props as P, next);
    }
    render(p: P) {
      return render(p);
    }
  };
}

/** Fetches `url` when it changes and again when `tick` changes (throttled). */
export function useFetched<T>(url: string | null, tick: unknown, minGap = 2000): [T | null, string, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [err, setErr] = useState('');
  const last = useRef({ url: '', at: 0, timer: 0 });
  const run = (u: string) => {
    last.current.at = Date.now();
    get<T>(u)
      .then((d) => {
        if (last.current.url === u) {
          setData(d);
          setErr('');
        }
      })
      .catch((e) => last.current.url === u && setErr(errText(e)));
  };
  useEffect(() => {
    const l = last.current;
    clearTimeout(l.timer);
    if (!url) {
      l.url = '';
      setData(null);
      return;
    }
    if (l.url !== url) {
      l.url = url;
      setData(null);
      setErr('');
      run(url);
      return;
    }
    const wait = l.at + minGap - Date.now();
    if (wait <= 0) run(url);
    else l.timer = window.setTimeout(() => run(url), wait);
  }, [url, tick]);
  useEffect(() => () => clearTimeout(last.current.timer), []);
  return [data, err, () => url && run(url)];
}
