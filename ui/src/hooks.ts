import { useEffect, useState } from 'preact/hooks';

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
