export type Level = 'ro' | 'full' | 'admin';
export type TorrentState =
  | 'initializing'
  | 'checking'
  | 'downloading'
  | 'queued'
  | 'seeding'
  | 'paused'
  | 'error';

export interface Profile {
  id: string;
  name: string;
  download_dir: string;
  max_active_downloads: number;
  level: Level;
}

export interface Row {
  hash: string;
  name: string;
  profile: string;
  state: TorrentState;
  progress: number;
  size: number;
  downloaded: number;
  uploaded: number;
  dl_speed: number;
  ul_speed: number;
  eta: number | null;
  peers: number;
  seeds: number;
  ratio: number;
  queue_position: number;
  label: string | null;
  added_at: string;
  completed_at: string | null;
  error: string | null;
  paused?: boolean;
  force_start?: boolean;
  /** While `checking`: the fraction verified so far. */
  check_progress?: number | null;
  /** Tracker host names. */
  trackers?: string[];
  /** Folder of the torrent's files. */
  save_dir?: string;
  /** Uploaded since the daemon started. */
  uploaded_session?: number;
}

export interface Details extends Row {
  save_dir: string;
  magnet: string | null;
  source_url: string | null;
  piece_length: number | null;
  files_count: number | null;
  only_files: number[] | null;
}

export interface FileRow {
  index: number;
  path: string;
  size: number;
  downloaded: number;
  progress: number;
  wanted: boolean;
}

export interface PeerRow {
  addr: string;
  client: string | null;
  state: string;
  downloaded: number;
  uploaded: number;
  connection: string | null;
  incoming?: boolean;
}

export interface Account {
  username: string;
  can_change_password: boolean;
  password_change_required: boolean;
  current_session: string | null;
}

export interface SessionInfo {
  id: string;
  created_at: string;
  expires_at: string;
  current: boolean;
}

export interface Me {
  username: string;
  role: 'admin' | 'user';
  provider: string;
  bypass: boolean;
  logout_available: boolean;
  permissions: Record<string, string>;
}

export interface ProfileStats {
  id: string;
  torrents: number;
  dl_speed: number;
  ul_speed: number;
  disk_free: number | null;
}

export interface Stats {
  dl_speed: number;
  ul_speed: number;
  torrents: number;
  profiles: ProfileStats[];
}

export interface User {
  username: string;
  role: 'admin' | 'user';
  external: boolean;
  permissions: Record<string, string>;
  created_at: string;
}

export interface Token {
  id: string;
  name: string;
  created_at: string;
}
