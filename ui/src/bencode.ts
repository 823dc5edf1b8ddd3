// A small bencode decoder, enough to list the files of a .torrent before adding it.
// Byte strings stay Uint8Array (pieces are binary); text is decoded as UTF-8 where needed.

export type BValue = number | Uint8Array | BValue[] | { [k: string]: BValue };

const td = new TextDecoder('utf-8');

export function decode(buf: Uint8Array): BValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`not a valid .torrent file (${what} at byte ${i})`);
  };
  const readInt = (end: number): number => {
    const j = buf.indexOf(end, i);
    if (j < 0) fail('unterminated number');
    const s = td.decode(buf.subarray(i, j));
    if (!/^-?\d+$/.test(s)) fail('bad number');
    i = j + 1;
    return Number(s);
  };
  const depthMax = 64;
  const value = (depth: number): BValue => {
    if (depth > depthMax) fail('nesting too deep');
    if (i >= buf.length) fail('unexpected end');
    const c = buf[i];
    if (c === 0x69 /* i */) {
      i++;
      return readInt(0x65);
    }
    if (c === 0x6c /* l */) {
      i++;
      const out: BValue[] = [];
      while (buf[i] !== 0x65) {
        if (i >= buf.length) fail('unterminated list');
        out.push(value(depth + 1));
      }
      i++;
      return out;
    }
    if (c === 0x64 /* d */) {
      i++;
      const out: { [k: string]: BValue } = {};
      while (buf[i] !== 0x65) {
        if (i >= buf.length) fail('unterminated dictionary');
        const k = value(depth + 1);
        if (!(k instanceof Uint8Array)) fail('dictionary key is not a string');
        out[td.decode(k as Uint8Array)] = value(depth + 1);
      }
      i++;
      return out;
    }
    if (c >= 0x30 && c <= 0x39) {
      const len = readInt(0x3a /* : */);
      if (i + len > buf.length) fail('string past the end');
      const s = buf.subarray(i, i + len);
      i += len;
      return s;
    }
    return fail('unexpected byte');
  };
  const v = value(0);
  return v;
}

export interface TorrentFile {
  index: number;
  path: string;
  size: number;
  padding: boolean;
}

export interface TorrentInfo {
  name: string;
  size: number;
  files: TorrentFile[];
}

function text(v: BValue | undefined): string | null {
  return v instanceof Uint8Array ? td.decode(v) : null;
}

/** Lists the files of a .torrent in the order the daemon indexes them (`only_files`). */
export function parseTorrent(buf: Uint8Array): TorrentInfo {
  const root = decode(buf);
  if (!root || typeof root !== 'object' || Array.isArray(root) || root instanceof Uint8Array) {
    throw new Error('not a valid .torrent file (no dictionary)');
  }
  const info = (root as Record<string, BValue>).info as Record<string, BValue> | undefined;
  if (!info || typeof info !== 'object' || info instanceof Uint8Array || Array.isArray(info)) {
    throw new Error('not a valid .torrent file (no info dictionary)');
  }
  const name = text(info['name.utf-8']) ?? text(info.name) ?? 'unnamed';
  const files: TorrentFile[] = [];
  if (Array.isArray(info.files)) {
    info.files.forEach((f, index) => {
      const d = f as Record<string, BValue>;
      const parts = (Array.isArray(d['path.utf-8']) ? d['path.utf-8'] : (d.path as BValue[])) || [];
      const path = (parts as BValue[]).map((p) => text(p) ?? '').join('/');
      const attr = text(d.attr) || '';
      files.push({ index, path, size: Number(d.length) || 0, padding: attr.includes('p') });
    });
  } else if (typeof info.length === 'number') {
    files.push({ index: 0, path: name, size: info.length, padding: false });
  } else {
    throw new Error('this .torrent has no v1 file list (BitTorrent v2 only is not supported)');
  }
  const size = files.reduce((a, f) => a + f.size, 0);
  return { name, size, files };
}
