// Tracker hosts per torrent arrive with the rows (`trackers`), for the sidebar and filter.
import { rows } from './store';

export function trackersOf(hash: string): string[] | undefined {
  return rows.map.get(hash)?.trackers;
}
