import { render } from 'preact';
import './styles.css';
import { App } from './components/App';
import { app, applyTheme } from './store';

applyTheme(app.get().theme);
// Follow the system theme until the user picks one with the toggle.
window.matchMedia?.('(prefers-color-scheme: light)').addEventListener?.('change', (e) => {
  if (localStorage.getItem('pt.theme')) return;
  const t = e.matches ? 'light' : 'dark';
  applyTheme(t);
  app.set({ theme: t });
});

render(<App />, document.getElementById('app')!);
