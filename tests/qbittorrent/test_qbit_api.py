"""The qBittorrent Web API v2 of pytorrentd, driven by real published clients.

The main client is `qbittorrent-api` (PyPI, pinned in requirements.txt), the library that
qBittorrent scripts, FlexGet, autobrr helpers and many tools use; the second is
`python-qbittorrent`. Everything runs on loopback: a real aria2c seeds a payload made by
mktorrent, and the daemon downloads it through a magnet with an `x.pe` peer hint.

The same file runs against a real qbittorrent-nox (Debian package) as the reference:

    QBT_TARGET=qbittorrent bash tests/qbittorrent/run.sh

Tests that need pytorrentd's users (permissions) or its extensions are skipped there, by
name, with the reason; every other assertion is the same for both targets.
"""

import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import qbittorrentapi
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.environ.get("QBT_TARGET", "pytorrentd")
BIN = os.environ.get("PYTORRENTD_BIN", os.path.join(ROOT, "target", "debug", "pytorrentd"))
PROCS = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(check, timeout=60.0, what="condition"):
    """Polls `check` until it returns a true value; fails with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = check()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported at the deadline
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last!r})")


def spawn(args, **kw):
    log = tempfile.TemporaryFile()
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kw)
    p.log = log
    PROCS.append(p)
    return p


def output(p):
    p.log.seek(0)
    return p.log.read().decode("utf-8", "replace")


def stop_all():
    for p in PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for p in PROCS:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def require(tool, package):
    if shutil.which(tool) is None:
        raise RuntimeError(f"{tool} not found: apt-get install {package}")


def make_payload(root, name, size):
    """Random data and a .torrent of it (mktorrent)."""
    require("mktorrent", "mktorrent")
    seed = os.path.join(root, "seed-" + name)
    os.makedirs(seed)
    path = os.path.join(seed, name)
    with open(path, "wb") as f:
        f.write(secrets.token_bytes(size))
    torrent = os.path.join(root, name + ".torrent")
    subprocess.run(["mktorrent", "-l", "16", "-o", torrent, path], check=True,
                   stdout=subprocess.DEVNULL)
    with open(torrent, "rb") as f:
        data = f.read()
    # The info hash: SHA-1 of the bencoded info dictionary (mktorrent puts it last).
    start = data.index(b"4:info") + len(b"4:info")
    info_hash = hashlib.sha1(data[start:-1]).hexdigest()
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"seed": seed, "path": path, "torrent": torrent, "data": data, "hash": info_hash,
            "name": name, "size": size, "sha256": digest}


def start_seeder(p):
    require("aria2c", "aria2")
    port = free_port()
    spawn(["aria2c", "--no-conf", "--enable-dht=false", "--enable-dht6=false",
           "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--disable-ipv6=true",
           "--interface=127.0.0.1", f"--listen-port={port}", "--bt-require-crypto=false",
           "--bt-min-crypto-level=plain", f"--dir={p['seed']}", "--seed-ratio=0.0",
           "--bt-seed-unverified=true", "--file-allocation=none", "--summary-interval=0",
           "--console-log-level=warn", p["torrent"]])

    def listening():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    until(listening, 15, f"aria2c listening on {port}")
    return port


class Target:
    """The server under test: pytorrentd, or qbittorrent-nox as the reference."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.downloads = os.path.join(tmp, "downloads")
        os.makedirs(self.downloads)
        if TARGET == "pytorrentd":
            self._start_pytorrentd()
        elif TARGET == "qbittorrent":
            self._start_qbittorrent()
        else:
            raise RuntimeError(f"QBT_TARGET must be pytorrentd or qbittorrent, not {TARGET!r}")

    def _start_pytorrentd(self):
        if not os.access(BIN, os.X_OK):
            raise RuntimeError(f"{BIN} missing: run cargo build first")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTORRENT_")}
        env.update({
            "PYTORRENT_DHT_ENABLE": "false", "PYTORRENT_LSD_ENABLE": "false",
            "PYTORRENT_UPNP_ENABLE": "false", "PYTORRENT_BT_PORT": str(free_port()),
            "PYTORRENT_DOWNLOAD_DIR": self.downloads, "PYTORRENT_LOG": "info",
        })
        self.proc = spawn([BIN, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                           "--data-dir", os.path.join(self.tmp, "data")], env=env)
        m = until(lambda: re.search(r"password '([^']+)'", output(self.proc)), 30,
                  "the first admin password in the daemon log")
        self.username, self.password = "admin", m.group(1)
        until(lambda: requests.get(self.url + "/api/health", timeout=2).ok, 30, "pytorrentd")

    def _start_qbittorrent(self):
        require("qbittorrent-nox", "qbittorrent-nox")
        profile = os.path.join(self.tmp, "qbt")
        conf = os.path.join(profile, "qBittorrent", "config")
        os.makedirs(conf)
        with open(os.path.join(conf, "qBittorrent.conf"), "w") as f:
            f.write(f"""[LegalNotice]
Accepted=true

[BitTorrent]
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false
Session\\Encryption=2
Session\\MultiConnectionsPerIp=true
Session\\BTProtocol=TCP
Session\\Interface=lo
Session\\InterfaceAddress=127.0.0.1
Session\\Port={free_port()}
Session\\DefaultSavePath={self.downloads}
Session\\QueueingSystemEnabled=true

[Preferences]
WebUI\\LocalHostAuth=true
WebUI\\Address=127.0.0.1
WebUI\\HostHeaderValidation=false
Connection\\ResolvePeerCountries=false
Connection\\UPnP=false
""")
        self.proc = spawn(["qbittorrent-nox", f"--profile={profile}",
                           f"--webui-port={self.port}"])
        self.username, self.password = "admin", "adminadmin"
        until(lambda: requests.get(self.url + "/api/v2/app/version", timeout=2).status_code
              in (200, 403), 30, "qbittorrent-nox")

    def client(self, username=None, password=None):
        c = qbittorrentapi.Client(host=self.url, username=username or self.username,
                                  password=password or self.password,
                                  VERIFY_WEBUI_CERTIFICATE=False,
                                  RAISE_NOTIMPLEMENTEDERROR_FOR_UNIMPLEMENTED_API_ENDPOINTS=True)
        c.auth_log_in()
        return c


def pytorrentd_only(test):
    return unittest.skipIf(TARGET != "pytorrentd",
                           "pytorrentd's users and extensions; qBittorrent has one user")(test)


class QbitApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pytorrentd-qbit-")
        try:
            cls.t = Target(cls.tmp)
            cls.qb = cls.t.client()
            cls.file_payload = make_payload(cls.tmp, "file-added.bin", 256 * 1024)
            cls.payload = make_payload(cls.tmp, "episode.bin", 3 * 1024 * 1024 + 1234)
            cls.seeder_port = start_seeder(cls.payload)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_all()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def info(self, h, **kw):
        rows = self.qb.torrents_info(torrent_hashes=h, **kw)
        return rows[0] if rows else None

    def magnet(self, p):
        return (f"magnet:?xt=urn:btih:{p['hash']}&dn={p['name']}"
                f"&x.pe=127.0.0.1:{self.seeder_port}")

    # ---- login, versions, preferences ----

    def test_01_login(self):
        anon = requests.Session()
        r = anon.get(self.t.url + "/api/v2/torrents/info")
        self.assertEqual(r.status_code, 403, r.text)
        r = anon.post(self.t.url + "/api/v2/auth/login",
                      data={"username": self.t.username, "password": "wrong-password"})
        self.assertEqual((r.status_code, r.text), (200, "Fails."))
        self.assertNotIn("SID", anon.cookies)
        with self.assertRaises(qbittorrentapi.LoginFailed):
            self.t.client(password="wrong-password")
        r = anon.post(self.t.url + "/api/v2/auth/login",
                      data={"username": self.t.username, "password": self.t.password})
        self.assertEqual((r.status_code, r.text), (200, "Ok."))
        self.assertIn("SID", anon.cookies)
        self.assertIn("HttpOnly", r.headers["Set-Cookie"])
        self.assertEqual(anon.get(self.t.url + "/api/v2/torrents/info").status_code, 200)
        anon.post(self.t.url + "/api/v2/auth/logout")
        self.assertEqual(anon.get(self.t.url + "/api/v2/torrents/info",
                                  cookies={"SID": r.cookies["SID"]}).status_code, 403)
        # Unknown endpoints: 403 before a login (qBittorrent checks the session first), 404
        # after.
        self.assertEqual(requests.get(self.t.url + "/api/v2/no/such").status_code, 403)
        self.assertEqual(self.qb._session.get(self.t.url + "/api/v2/no/such").status_code, 404)

    def test_02_versions_and_preferences(self):
        self.assertRegex(self.qb.app_version(), r"^v4\.\d+\.\d+$")
        self.assertRegex(self.qb.app_web_api_version(), r"^2\.\d+(\.\d+)?$")
        prefs = self.qb.app_preferences()
        for key in ("save_path", "max_ratio_enabled", "max_ratio", "queueing_enabled", "dht"):
            self.assertIn(key, prefs)
        self.assertEqual(os.path.realpath(prefs["save_path"]), os.path.realpath(self.t.downloads))
        self.assertEqual(os.path.realpath(self.qb.app_default_save_path()),
                         os.path.realpath(self.t.downloads))
        self.assertIn("bitness", self.qb.app_build_info())

    # ---- categories ----

    def test_03_categories(self):
        self.qb.torrents_create_category(name="tv-sonarr")
        cats = self.qb.torrents_categories()
        self.assertIn("tv-sonarr", cats)
        self.assertEqual(cats["tv-sonarr"]["name"], "tv-sonarr")
        # Without a save path qBittorrent answers "" and saves under its default folder +
        # the name; pytorrentd answers that folder.
        self.assertIn(cats["tv-sonarr"]["savePath"].rstrip("/"),
                      ("", os.path.join(self.t.downloads, "tv-sonarr")))
        movies = os.path.join(self.tmp, "movies")
        os.makedirs(movies)
        self.qb.torrents_create_category(name="movies", save_path=movies)
        self.assertEqual(self.qb.torrents_categories()["movies"]["savePath"].rstrip("/"), movies)
        with self.assertRaises(qbittorrentapi.Conflict409Error):
            self.qb.torrents_create_category(name="movies")
        moved = os.path.join(self.tmp, "movies-4k")
        os.makedirs(moved)
        self.qb.torrents_edit_category(name="movies", save_path=moved)
        self.assertEqual(self.qb.torrents_categories()["movies"]["savePath"].rstrip("/"), moved)
        self.qb.torrents_remove_categories(categories="movies")
        self.assertNotIn("movies", self.qb.torrents_categories())

    # ---- adds ----

    def test_04_add_torrent_file_sonarr_style(self):
        p = self.file_payload
        with self.assertRaises(qbittorrentapi.UnsupportedMediaType415Error):
            self.qb.torrents_add(torrent_files={"bad.torrent": b"not a torrent"},
                                 category="tv-sonarr")
        # Sonarr: one multipart request, the .torrent as a `torrents` part and its options
        # as form fields.
        s = requests.Session()
        s.post(self.t.url + "/api/v2/auth/login",
               data={"username": self.t.username, "password": self.t.password})
        r = s.post(self.t.url + "/api/v2/torrents/add",
                   files={"torrents": (p["name"] + ".torrent", p["data"],
                                       "application/x-bittorrent")},
                   data={"category": "tv-sonarr", "tags": "sonarr,hd", "paused": "true",
                         "autoTMM": "true"})
        self.assertEqual((r.status_code, r.text), (200, "Ok."))
        t = until(lambda: self.info(p["hash"]), 20, "the added torrent in torrents/info")
        self.assertEqual(t["category"], "tv-sonarr")
        self.assertEqual(sorted(t["tags"].split(", ")), ["hd", "sonarr"])
        # qBittorrent 4.4 and later write save paths without a trailing separator.
        self.assertEqual(t["save_path"], os.path.join(self.t.downloads, "tv-sonarr"))
        until(lambda: self.info(p["hash"])["state"] == "pausedDL", 20, "state pausedDL")
        t = self.info(p["hash"])
        self.assertEqual(t["progress"], 0)
        self.assertEqual(t["eta"], 8640000)
        self.assertEqual(t["total_size"], p["size"])
        self.assertIn(t["ratio_limit"], (-2,))
        self.assertEqual(t["name"], p["name"])
        self.assertEqual(t["hash"], p["hash"])
        self.assertEqual(len(self.qb.torrents_files(p["hash"])), 1)
        self.assertEqual([x["hash"] for x in self.qb.torrents_info(category="tv-sonarr",
                                                                   tag="hd")], [p["hash"]])
        self.assertEqual(self.qb.torrents_info(tag="no-such-tag"), [])
        # A magnet, paused, with tags and a category (the seeder never hears of it).
        paused = "cd" * 20
        self.assertEqual(self.qb.torrents_add(urls=f"magnet:?xt=urn:btih:{paused}&dn=later",
                                              category="tv-sonarr", tags="later",
                                              is_paused=True), "Ok.")
        t = until(lambda: self.info(paused), 20, "the paused magnet")
        self.assertEqual((t["category"], t["tags"]), ("tv-sonarr", "later"))
        until(lambda: self.info(paused)["state"] == "pausedDL", 20, "the magnet paused")
        self.qb.torrents_delete(delete_files=True, torrent_hashes=paused)
        self.assertEqual(self.qb.torrents_info(filter="paused", category="tv-sonarr")[0]["hash"],
                         p["hash"])
        # A repeated add of the same torrent adds nothing.
        r = s.post(self.t.url + "/api/v2/torrents/add",
                   files={"torrents": ("again.torrent", p["data"])},
                   data={"category": "tv-sonarr"})
        self.assertEqual(r.text, "Fails.")

    def test_05_download_by_magnet_into_a_category(self):
        p = self.payload
        self.assertEqual(self.qb.torrents_add(urls=self.magnet(p), category="tv-sonarr",
                                              tags="episode"), "Ok.")
        until(lambda: (self.info(p["hash"]) or {}).get("completion_on", -1) > 0, 120,
              "the magnet download to complete")
        t = self.info(p["hash"])
        self.assertEqual(t["progress"], 1)
        self.assertIn(t["state"], ("uploading", "stalledUP", "queuedUP", "forcedUP"))
        self.assertEqual(t["category"], "tv-sonarr")
        self.assertEqual(t["tags"], "episode")
        self.assertEqual(t["amount_left"], 0)
        self.assertEqual(t["size"], p["size"])
        self.assertGreater(t["completion_on"], 0)
        content = t["content_path"]
        with open(content, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), p["sha256"])
        props = self.qb.torrents_properties(p["hash"])
        self.assertEqual(props["total_size"], p["size"])
        self.assertEqual(props["piece_size"], 65536)
        self.assertEqual(props["pieces_num"], -(-p["size"] // 65536))
        self.assertEqual(props["pieces_have"], props["pieces_num"])
        self.assertEqual(os.path.realpath(props["save_path"]),
                         os.path.realpath(os.path.dirname(content)))
        files = self.qb.torrents_files(p["hash"])
        self.assertEqual([(f["name"], f["size"], f["progress"], f["priority"]) for f in files],
                         [(p["name"], p["size"], 1, 1)])
        trackers = self.qb.torrents_trackers(p["hash"])
        self.assertEqual([t["url"] for t in trackers[:3]],
                         ["** [DHT] **", "** [PeX] **", "** [LSD] **"])
        with self.assertRaises(qbittorrentapi.NotFound404Error):
            self.qb.torrents_properties("0" * 40)

    def test_06_pause_resume_and_queue(self):
        p = self.payload
        until(lambda: (self.info(p["hash"]) or {}).get("progress") == 1, 120, "download")
        self.qb.torrents_pause(torrent_hashes=p["hash"])
        until(lambda: self.info(p["hash"])["state"] == "pausedUP", 20, "pausedUP")
        self.qb.torrents_resume(torrent_hashes=p["hash"])
        until(lambda: self.info(p["hash"])["state"] in ("uploading", "stalledUP"), 30,
              "seeding again")
        self.qb.torrents_set_force_start(enable=True, torrent_hashes=p["hash"])
        until(lambda: self.info(p["hash"])["force_start"], 20, "force start")
        self.qb.torrents_set_force_start(enable=False, torrent_hashes=p["hash"])
        until(lambda: not self.info(p["hash"])["force_start"], 20, "force start off")
        # Accepted whatever pytorrentd supports, as qBittorrent accepts them.
        self.qb.torrents_set_share_limits(ratio_limit=2, seeding_time_limit=60,
                                          inactive_seeding_time_limit=-2,
                                          torrent_hashes=p["hash"])
        self.qb.torrents_top_priority(torrent_hashes=self.file_payload["hash"])
        self.qb.torrents_recheck(torrent_hashes="0" * 40)

    @pytorrentd_only
    def test_07_stop_start_as_in_qbittorrent_5(self):
        h = self.file_payload["hash"]
        self.qb._post(_name="torrents", _method="start", data={"hashes": h})
        until(lambda: self.info(h)["state"] != "pausedDL", 20, "started")
        self.qb._post(_name="torrents", _method="stop", data={"hashes": h})
        until(lambda: self.info(h)["state"] == "pausedDL", 20, "stopped")

    def test_08_tags(self):
        h = self.file_payload["hash"]
        self.qb.torrents_add_tags(tags="4k,remux", torrent_hashes=h)
        t = self.info(h)
        self.assertEqual(sorted(t["tags"].split(", ")), ["4k", "hd", "remux", "sonarr"])
        self.qb.torrents_remove_tags(tags="hd,remux", torrent_hashes=h)
        self.assertEqual(sorted(self.info(h)["tags"].split(", ")), ["4k", "sonarr"])
        self.qb.torrents_create_tags(tags="wanted-later")
        tags = self.qb.torrents_tags()
        for tag in ("4k", "sonarr", "wanted-later", "episode"):
            self.assertIn(tag, tags)
        self.qb.torrents_delete_tags(tags="wanted-later,4k")
        self.assertNotIn("wanted-later", self.qb.torrents_tags())
        self.assertEqual(self.info(h)["tags"], "sonarr")

    def test_09_set_category_moves_the_data(self):
        p = self.payload
        until(lambda: (self.info(p["hash"]) or {}).get("progress") == 1, 120, "download")
        archive = os.path.join(self.tmp, "archive")
        os.makedirs(archive)
        self.qb.torrents_create_category(name="archive", save_path=archive)
        old = self.info(p["hash"])["content_path"]
        # qBittorrent moves data on a category change only in automatic management mode
        # (what Sonarr's users run); pytorrentd always moves it and accepts the switch.
        self.qb.torrents_set_auto_management(enable=True, torrent_hashes=p["hash"])
        self.qb.torrents_set_category(category="archive", torrent_hashes=p["hash"])
        target = os.path.join(archive, p["name"])
        until(lambda: os.path.exists(target) and not os.path.exists(old), 60,
              "the data in the category's folder")
        until(lambda: self.info(p["hash"])["category"] == "archive", 20, "category archive")
        with open(target, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), p["sha256"])
        self.assertEqual(os.path.realpath(self.info(p["hash"])["save_path"]),
                         os.path.realpath(archive))
        with self.assertRaises(qbittorrentapi.Conflict409Error):
            self.qb.torrents_set_category(category="no-such-category", torrent_hashes=p["hash"])

    def test_10_sync_maindata_is_incremental(self):
        full = self.qb.sync_maindata(rid=0)
        self.assertTrue(full["full_update"])
        h = self.file_payload["hash"]
        self.assertIn(h, full["torrents"])
        self.assertIn("tv-sonarr", full["categories"])
        self.assertIn("server_state", full)
        rid = full["rid"]
        self.qb.torrents_add_tags(tags="synced", torrent_hashes=h)
        delta = until(lambda: (lambda d: d if h in d.get("torrents", {}) else None)(
            self.qb.sync_maindata(rid=rid)), 20, "the tag change in sync/maindata")
        self.assertNotIn("full_update", {k for k, v in delta.items() if v})
        self.assertIn("synced", delta["torrents"][h]["tags"])
        self.assertNotIn("name", delta["torrents"][h])
        self.assertIn("synced", delta.get("tags", []))
        rid2 = delta["rid"]
        self.qb.torrents_remove_tags(tags="synced", torrent_hashes=h)
        # A tag once used stays in the list until deleted, as in qBittorrent.
        self.assertIn("synced", self.qb.torrents_tags())
        self.qb.torrents_delete_tags(tags="synced")
        again = until(lambda: (lambda d: d if "synced" in d.get("tags_removed", []) else None)(
            self.qb.sync_maindata(rid=rid2)), 20, "tags_removed in sync/maindata")
        self.assertGreater(again["rid"], rid2)

    def test_11_transfer_info(self):
        info = self.qb.transfer_info()
        for key in ("dl_info_speed", "dl_info_data", "up_info_speed", "up_info_data",
                    "connection_status"):
            self.assertIn(key, info)
        self.assertIn(self.qb.transfer_speed_limits_mode(), (0, "0", False))

    @pytorrentd_only
    def test_12_permissions(self):
        admin = requests.Session()
        admin.post(self.t.url + "/api/auth/login",
                   json={"username": self.t.username, "password": self.t.password})
        self.qb.torrents_create_category(name="private")
        r = admin.post(self.t.url + "/api/users",
                       json={"username": "viewer", "password": "viewer-password-1",
                             "role": "user", "permissions": {"tv-sonarr": "ro"}})
        self.assertEqual(r.status_code, 201, r.text)
        viewer = self.t.client("viewer", "viewer-password-1")
        self.assertEqual(sorted(viewer.torrents_categories()), ["tv-sonarr"])
        before = len(self.qb.torrents_info())
        p = make_payload(self.tmp, "refused.bin", 64 * 1024)
        self.assertEqual(viewer.torrents_add(torrent_files={"r.torrent": p["data"]},
                                             category="tv-sonarr"), "Fails.")
        self.assertEqual(viewer.torrents_add(torrent_files={"r.torrent": p["data"]},
                                             category="private"), "Fails.")
        self.assertEqual(len(self.qb.torrents_info()), before)
        self.assertEqual({t["category"] for t in viewer.torrents_info()}, {"tv-sonarr"})
        with self.assertRaises(qbittorrentapi.Forbidden403Error):
            viewer.torrents_pause(torrent_hashes=self.file_payload["hash"])
        with self.assertRaises(qbittorrentapi.Forbidden403Error):
            viewer.torrents_create_category(name="mine")
        # An API token works as a Bearer header, without auth/login.
        r = admin.post(self.t.url + "/api/tokens", json={"name": "sonarr"})
        self.assertEqual(r.status_code, 201, r.text)
        token = r.json()["token"]
        r = requests.get(self.t.url + "/api/v2/torrents/info",
                         headers={"Authorization": f"Bearer {token}"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(len(r.json()), before)

    def test_13_second_client_python_qbittorrent(self):
        from qbittorrent import Client
        p = make_payload(self.tmp, "second-client.bin", 128 * 1024)
        qb = Client(self.t.url + "/")
        qb.login(self.t.username, self.t.password)
        with open(p["torrent"], "rb") as f:
            qb.download_from_file(f, category="tv-sonarr", paused="true")
        t = until(lambda: self.info(p["hash"]), 20, "the torrent added by python-qbittorrent")
        self.assertEqual(t["category"], "tv-sonarr")
        qb.download_from_link(f"magnet:?xt=urn:btih:{'ab' * 20}&dn=second", category="tv-sonarr")
        until(lambda: self.info("ab" * 20), 20, "the magnet added by python-qbittorrent")
        self.assertEqual(self.info("ab" * 20)["category"], "tv-sonarr")

    def test_14_delete_with_and_without_files(self):
        p = self.payload
        until(lambda: (self.info(p["hash"]) or {}).get("progress") == 1, 120, "download")
        content = self.info(p["hash"])["content_path"]
        self.qb.torrents_delete(delete_files=True, torrent_hashes=p["hash"])
        until(lambda: self.info(p["hash"]) is None and not os.path.exists(content), 30,
              "the torrent and its data gone")
        f = self.file_payload
        self.qb.torrents_delete(delete_files=False, torrent_hashes=f["hash"])
        until(lambda: self.info(f["hash"]) is None, 30, "the torrent gone")

    def test_15_speed_limits(self):
        # Global limits of the mode in force: the normal pair, then the alternative one.
        self.qb.transfer_set_download_limit(limit=1024 * 1024)
        self.qb.transfer_set_upload_limit(limit=512 * 1024)
        self.assertEqual(int(self.qb.transfer_download_limit()), 1024 * 1024)
        self.assertEqual(int(self.qb.transfer_upload_limit()), 512 * 1024)
        self.assertIn(self.qb.transfer_speed_limits_mode(), (0, "0", False))
        self.qb.transfer_toggle_speed_limits_mode()
        self.assertIn(self.qb.transfer_speed_limits_mode(), (1, "1", True))
        self.qb.transfer_set_download_limit(limit=256 * 1024)
        self.assertEqual(int(self.qb.transfer_download_limit()), 256 * 1024)
        self.assertEqual(self.qb.app_preferences()["alt_dl_limit"], 256 * 1024)
        self.assertEqual(self.qb.sync_maindata()["server_state"]["use_alt_speed_limits"], True)
        self.qb.transfer_set_speed_limits_mode(False)
        self.assertEqual(int(self.qb.transfer_download_limit()), 1024 * 1024)
        self.assertEqual(self.qb.transfer_info()["dl_rate_limit"], 1024 * 1024)
        # Preferences set the normal pair too.
        self.qb.app_set_preferences({"dl_limit": 2 * 1024 * 1024, "up_limit": 0})
        prefs = self.qb.app_preferences()
        self.assertEqual((prefs["dl_limit"], prefs["up_limit"]), (2 * 1024 * 1024, 0))
        self.assertEqual(int(self.qb.transfer_download_limit()), 2 * 1024 * 1024)
        # A torrent's own limits.
        p = make_payload(self.tmp, "limited.bin", 64 * 1024)
        self.assertEqual(self.qb.torrents_add(torrent_files={"l.torrent": p["data"]},
                                              is_paused=True), "Ok.")
        until(lambda: self.info(p["hash"]), 20, "the added torrent")
        self.qb.torrents_set_download_limit(limit=300 * 1024, torrent_hashes=p["hash"])
        self.qb.torrents_set_upload_limit(limit=200 * 1024, torrent_hashes=p["hash"])
        self.assertEqual(dict(self.qb.torrents_download_limit(torrent_hashes=p["hash"])),
                         {p["hash"]: 300 * 1024})
        self.assertEqual(dict(self.qb.torrents_upload_limit(torrent_hashes=p["hash"])),
                         {p["hash"]: 200 * 1024})
        t = self.info(p["hash"])
        self.assertEqual((t["dl_limit"], t["up_limit"]), (300 * 1024, 200 * 1024))
        self.qb.torrents_delete(delete_files=True, torrent_hashes=p["hash"])
        self.qb.app_set_preferences({"dl_limit": 0, "up_limit": 0})
        self.assertEqual(int(self.qb.transfer_download_limit()), 0)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        stop_all()
