"""The operator commands through the console script, each in a subprocess: pack set/add/
rename/remove, user list/delete/passwd, token list/revoke; tables, --json, passwords from
stdin and from a terminal, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emojid.auth.accounts import Accounts, verify_password
from emojid.config import load
from emojid.migrations import open_database
from emojid.social.index import SocialIndex
from emojid.social.media import MediaStore
from tests.helpers import png_bytes, write_pack, zip_bytes
from tests.test_cli import EMOJID, clean_env_os, done, emojid, on_pty, refused, table, write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "site")


def packs(config: Path) -> Path:
    return config.parent / "packs"


def images(folder: Path, **colors: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, color in colors.items():
        path = folder / f"{name}.png"
        path.write_bytes(png_bytes(color))
        paths.append(path)
    return paths


def show(config: Path, name: str) -> dict:
    return json.loads(done(emojid(config, "pack", "show", name, "--json")))


def social_index(config: Path) -> SocialIndex:
    return SocialIndex(open_database(load(config, environ={}).database_path))


# -- packs: list and show ------------------------------------------------------------


def test_pack_list_is_a_table_and_json(config):
    write_pack(packs(config), "blobs", {"blobcat": "blobcat.png", "blobfox": "blobfox.png"},
               meta={"share-files": True, "license": "CC0", "description": "Blob\nemoji", "homepage": "https://b.example"})
    write_pack(packs(config), "cats", {"cat": "cat.png"}, meta={"share-files": False})
    loose = packs(config) / "loose"
    loose.mkdir()
    (loose / "one.png").write_bytes(png_bytes("red"))

    assert table(done(emojid(config, "pack", "list"))) == [
        ["NAME", "EMOJI", "STATE", "LICENSE", "DESCRIPTION"],
        ["blobs", "2", "shared", "CC0", "Blob emoji"],
        ["cats", "1", "private"],
        ["loose", "1", "importable"],
    ]
    rows = json.loads(done(emojid(config, "pack", "list", "--json")))
    assert rows == [
        {"name": "blobs", "files_count": 2, "state": "shared", "license": "CC0", "homepage": "https://b.example",
         "description": "Blob\nemoji"},
        {"name": "cats", "files_count": 1, "state": "private", "license": "", "homepage": "", "description": ""},
        {"name": "loose", "files_count": 1, "state": "importable", "license": "", "homepage": "", "description": ""},
    ]


def test_empty_lists_print_nothing(config):
    assert done(emojid(config, "pack", "list")) == ""
    assert json.loads(done(emojid(config, "pack", "list", "--json"))) == []
    assert done(emojid(config, "user", "list")) == ""
    assert json.loads(done(emojid(config, "user", "list", "--json"))) == []


def test_pack_show_is_readable_and_json_is_the_api_document(config):
    write_pack(packs(config), "blobs", {"blobcat": "blobcat.png", "blobfox": "sub/blobfox.png"},
               meta={"share-files": True, "license": "CC0", "description": "blobs", "x-custom": "kept"})
    out = done(emojid(config, "pack", "show", "blobs"))
    head, emoji = out.split("\n\n")
    fields = dict(line.split(":", 1) for line in head.splitlines())
    fields = {k: v.strip() for k, v in fields.items()}
    assert fields["Pack"] == "blobs" and fields["Emoji"] == "2" and fields["State"] == "shared"
    assert fields["License"] == "CC0" and fields["Description"] == "blobs" and fields["x-custom"] == "kept"
    assert len(fields["Download SHA256"]) == 64
    assert table(emoji) == [["SHORTCODE", "FILE"], ["blobcat", "blobcat.png"], ["blobfox", "sub/blobfox.png"]]

    doc = show(config, "blobs")
    assert doc["files"] == {"blobcat": "blobcat.png", "blobfox": "sub/blobfox.png"}
    assert doc["files_count"] == 2
    assert doc["pack"]["can-download"] is True and doc["pack"]["download-sha256"] == fields["Download SHA256"]


# -- packs: set, add, rename, remove -------------------------------------------------


def test_pack_set_changes_only_what_is_given(config):
    done(emojid(config, "pack", "create", "blobs"))
    assert done(emojid(config, "pack", "set", "blobs", "--license", "CC0", "--description", "Blobs")) == "ok\n"
    meta = show(config, "blobs")["pack"]
    assert meta["license"] == "CC0" and meta["description"] == "Blobs" and meta["can-download"] is False

    done(emojid(config, "pack", "set", "blobs", "--share-files", "--homepage", "https://blobs.example"))
    meta = show(config, "blobs")["pack"]
    assert meta["share-files"] is True and meta["can-download"] is True
    assert meta["license"] == "CC0" and meta["homepage"] == "https://blobs.example"
    on_disk = json.loads((packs(config) / "blobs" / "pack.json").read_text())["pack"]
    assert on_disk["share-files"] is True and "can-download" not in on_disk

    done(emojid(config, "pack", "set", "blobs", "--no-share-files", "--license", ""))
    meta = show(config, "blobs")["pack"]
    assert meta["share-files"] is False and meta["license"] == "" and meta["description"] == "Blobs"


def test_pack_add_several_files_and_a_zip(config, tmp_path):
    done(emojid(config, "pack", "create", "blobs"))
    a, b = images(tmp_path / "in", blobcat="orange", blobfox="red")
    out = done(emojid(config, "pack", "add", "blobs", str(a), str(b)))
    assert table(out) == [["SHORTCODE", "FILE"], ["blobcat", "blobcat.png"], ["blobfox", "blobfox.png"]]
    assert (packs(config) / "blobs" / "blobcat.png").read_bytes() == a.read_bytes()
    assert a.exists() and b.exists()  # copied, not moved

    archive = tmp_path / "more.zip"
    archive.write_bytes(zip_bytes({"z/one.png": png_bytes("green"), "two.png": png_bytes("blue"),
                                   "readme.txt": b"not an image"}))
    out = done(emojid(config, "pack", "add", "blobs", str(archive)))
    assert table(out) == [["SHORTCODE", "FILE"], ["one", "z/one.png"], ["two", "two.png"]]

    c, = images(tmp_path / "other", c="white")
    done(emojid(config, "pack", "add", "blobs", str(c), "--shortcode", "blobwhite"))
    assert show(config, "blobs")["files"] == {"blobcat": "blobcat.png", "blobfox": "blobfox.png",
                                              "blobwhite": "c.png", "one": "z/one.png", "two": "two.png"}


def test_pack_add_goes_on_past_a_bad_file_and_fails(config, tmp_path):
    done(emojid(config, "pack", "create", "blobs"))
    good, = images(tmp_path / "in", good="orange")
    fake = tmp_path / "in" / "fake.png"
    fake.write_bytes(b"not a png at all")
    proc = emojid(config, "pack", "add", "blobs", str(fake), str(good))
    assert proc.returncode == 1
    assert table(proc.stdout) == [["SHORTCODE", "FILE"], ["good", "good.png"]]
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"emojid: {fake}: ") and "Traceback" not in proc.stderr
    # The same image again: its shortcode is taken.
    line = refused(emojid(config, "pack", "add", "blobs", str(good)))
    assert "good" in line and "already exists" in line


def test_pack_rename_and_remove(config, tmp_path):
    done(emojid(config, "pack", "create", "blobs"))
    a, b = images(tmp_path / "in", blob_cat="orange", fox="red")
    done(emojid(config, "pack", "add", "blobs", str(a), str(b)))

    assert done(emojid(config, "pack", "rename", "blobs", "blob_cat", "blobcat")) == "ok\n"
    assert show(config, "blobs")["files"] == {"blobcat": "blob_cat.png", "fox": "fox.png"}
    done(emojid(config, "pack", "rename", "blobs", "fox", "blobfox", "--filename", "foxes/blobfox.png"))
    assert show(config, "blobs")["files"] == {"blobcat": "blob_cat.png", "blobfox": "foxes/blobfox.png"}
    assert (packs(config) / "blobs" / "foxes" / "blobfox.png").is_file()

    assert done(emojid(config, "pack", "remove", "blobs", "blobcat")) == "ok\n"
    assert show(config, "blobs")["files"] == {"blobfox": "foxes/blobfox.png"}
    assert not (packs(config) / "blobs" / "blob_cat.png").exists()


def test_hand_edits_are_seen_and_kept_by_the_next_command(config, tmp_path):
    """Each command brings the index up to date first, and writes over what is on disk."""
    done(emojid(config, "pack", "create", "blobs"))
    a, = images(tmp_path / "in", blobcat="orange")
    done(emojid(config, "pack", "add", "blobs", str(a)))
    # A hand edit of pack.json is picked up by the next command too.
    doc = json.loads((packs(config) / "blobs" / "pack.json").read_text())
    doc["pack"]["license"] = "by hand"
    (packs(config) / "blobs" / "pack.json").write_text(json.dumps(doc))
    done(emojid(config, "pack", "set", "blobs", "--description", "edited"))
    meta = show(config, "blobs")["pack"]
    assert meta["license"] == "by hand" and meta["description"] == "edited"


# -- accounts ---------------------------------------------------------------------------


def test_user_create_reads_one_line_of_stdin(config):
    account_id = done(emojid(config, "user", "create", "alice", "--admin", input="s3cret words\nignored\n")).strip()
    assert account_id.isdigit()
    index = social_index(config)
    try:
        account = index.account_by_nickname("alice")
        assert account.id == account_id and account.is_admin
        assert verify_password(account.password_hash, "s3cret words")
    finally:
        index.close()
    line = refused(emojid(config, "user", "create", "bob", input=""))
    assert "--password" in line and "stdin" in line


def _pty_run(argv: list[str], answers: list[tuple[bytes, bytes]], timeout: float = 60) -> tuple[int, str]:
    return on_pty(argv, clean_env_os() | {"TERM": "xterm"}, answers, timeout)


def test_user_create_and_passwd_ask_twice_without_echo_on_a_terminal(config):
    code, out = _pty_run([str(EMOJID), "--config", str(config), "user", "create", "carol"],
                         [(b"Password:", b"hidden pw\n"), (b"Repeat password:", b"hidden pw\n")])
    assert code == 0, out
    assert "hidden pw" not in out
    account_id = out.strip().splitlines()[-1]
    assert account_id.isdigit()

    code, out = _pty_run([str(EMOJID), "--config", str(config), "user", "passwd", "carol"],
                         [(b"New password:", b"other pw\n"), (b"Repeat new password:", b"other pw\n")])
    assert code == 0, out
    assert "other pw" not in out and out.strip().endswith("ok")
    index = social_index(config)
    try:
        assert verify_password(index.account_by_nickname("carol").password_hash, "other pw")
    finally:
        index.close()


def test_user_list_table_and_json(config):
    alice = done(emojid(config, "user", "create", "alice", "--password", "pw", "--admin", "--email", "a@x.org")).strip()
    bob = done(emojid(config, "user", "create", "bob", input="pw\n")).strip()
    rows = table(done(emojid(config, "user", "list")))
    assert rows[0] == ["ID", "NICKNAME", "EMAIL", "ADMIN", "STATE", "CREATED"]
    assert rows[1][:5] == [alice, "alice", "a@x.org", "yes", "active"]
    assert rows[2][:4] == [bob, "bob", "no", "active"]  # no email: an empty cell
    listed = json.loads(done(emojid(config, "user", "list", "--json")))
    assert [(a["id"], a["nickname"], a["email"], a["admin"], a["state"]) for a in listed] == [
        (alice, "alice", "a@x.org", True, "active"), (bob, "bob", None, False, "active")]
    assert all(a["created_at"] for a in listed)


def test_user_passwd_from_stdin(config):
    done(emojid(config, "user", "create", "alice", "--password", "old"))
    assert done(emojid(config, "user", "passwd", "alice", input="new one\n")) == "ok\n"
    index = social_index(config)
    try:
        hashed = index.account_by_nickname("alice").password_hash
        assert verify_password(hashed, "new one") and not verify_password(hashed, "old")
    finally:
        index.close()
    done(emojid(config, "user", "passwd", "alice", "--password", "third"))
    assert "ghost" in refused(emojid(config, "user", "passwd", "ghost", "--password", "x"))


def test_user_delete_removes_what_the_api_deletion_removes(config, tmp_path):
    account_id = done(emojid(config, "user", "create", "alice", "--password", "pw", "--email", "a@x.org")).strip()
    token = done(emojid(config, "token", "create", "alice")).strip()
    index = social_index(config)
    try:
        source = tmp_path / "avatar.png"
        source.write_bytes(png_bytes("orange"))
        media = MediaStore(index, load(config, environ={})).store(account_id, source, "avatar.png")
        media_file = load(config, environ={}).media_dir / media.filename
        assert media_file.is_file()
        assert Accounts(index).lookup_token(token) is not None
    finally:
        index.close()

    assert done(emojid(config, "user", "delete", "alice")) == "ok\n"

    index = social_index(config)
    try:
        account = index.account_by_nickname("alice")
        assert account.disabled and account.email is None and account.password_hash == ""
        assert index.profile(account_id).deleted_at
        assert Accounts(index).lookup_token(token) is None
        assert index.execute("SELECT count(*) FROM tokens WHERE account_id = ?", (account_id,)) == [(0,)]
    finally:
        index.close()
    assert not media_file.exists()
    rows = json.loads(done(emojid(config, "user", "list", "--json")))
    assert [(r["nickname"], r["state"]) for r in rows] == [("alice", "deleted")]
    # The nickname stays taken; a deleted account has no password to set nor tokens to mint.
    assert "taken" in refused(emojid(config, "user", "create", "alice", "--password", "pw"))
    assert "deleted" in refused(emojid(config, "user", "delete", "alice"))
    assert "deleted" in refused(emojid(config, "user", "passwd", "alice", "--password", "pw"))
    assert "deleted" in refused(emojid(config, "token", "create", "alice"))


# -- tokens ---------------------------------------------------------------------------


def test_token_list_and_revoke(config):
    done(emojid(config, "user", "create", "alice", "--password", "pw", "--admin"))
    first = done(emojid(config, "token", "create", "alice", "--scopes", "read write admin")).strip()
    second = done(emojid(config, "token", "create", "alice")).strip()

    rows = table(done(emojid(config, "token", "list", "alice")))
    assert rows[0] == ["ID", "KIND", "APP", "SCOPES", "CREATED", "EXPIRES"]
    assert sorted(r[3] for r in rows[1:]) == ["read write admin", "read write follow push"]
    listed = json.loads(done(emojid(config, "token", "list", "alice", "--json")))
    assert len(listed) == 2 and {t["kind"] for t in listed} == {"token"}
    assert all(t["valid_until"] for t in listed)
    admin_id = next(t["id"] for t in listed if "admin" in t["scopes"])

    assert done(emojid(config, "token", "revoke", admin_id)) == "ok\n"
    remaining = json.loads(done(emojid(config, "token", "list", "alice", "--json")))
    assert [t["scopes"] for t in remaining] == ["read write follow push"]
    index = social_index(config)
    try:
        assert Accounts(index).lookup_token(first) is None
        assert Accounts(index).lookup_token(second) is not None
    finally:
        index.close()
    assert admin_id in refused(emojid(config, "token", "revoke", admin_id))


# -- errors: one line, non-zero, no traceback -----------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["pack", "show", "nope"], ["nope"]),
    (["pack", "set", "nope", "--license", "x"], ["nope"]),
    (["pack", "set", "blobs"], ["--share-files", "--license"]),
    (["pack", "add", "nope", "{image}"], ["nope"]),
    (["pack", "add", "blobs", "{image}", "{image}", "--shortcode", "x"], ["--shortcode"]),
    (["pack", "add", "blobs", "/nonexistent/x.png"], ["/nonexistent/x.png"]),
    (["pack", "rename", "blobs", "nope", "new"], ["nope"]),
    (["pack", "rename", "blobs", "blobcat", "bad name!"], ["bad name!"]),
    (["pack", "remove", "blobs", "nope"], ["nope"]),
    (["pack", "remove", "../x", "a"], []),
    (["user", "delete", "ghost"], ["ghost"]),
    (["user", "passwd", "ghost", "--password", "x"], ["ghost"]),
    (["user", "create", "bad/name", "--password", "x"], ["nickname"]),
    (["token", "list", "ghost"], ["ghost"]),
    (["token", "revoke", "12345"], ["12345"]),
    (["sync", "--once"], ["[[sync]]"]),
    (["sync", "--status", "--json"], ["[[sync]]"]),
    (["pack", "download", "ftp://example.org", "blobs", "--as", "fresh"], ["http"]),
    (["pack", "list", "--bogus"], ["--bogus"]),
])
def test_errors_are_one_line(config, tmp_path, args, words):
    write_pack(packs(config), "blobs", {"blobcat": "blobcat.png"})
    image, = images(tmp_path / "in", img="red")
    argv = [a.replace("{image}", str(image)) for a in args]
    line = refused(emojid(config, *argv))
    for word in words:
        assert word in line, line


def test_bad_config_names_the_key_for_every_command(tmp_path):
    config = write_config(tmp_path, '[server]\nport = "many"\n')
    for args in (["pack", "list"], ["user", "list"], ["token", "list", "x"], ["reindex"], ["sync", "--status"]):
        line = refused(emojid(config, *args))
        assert "[server].port" in line, (args, line)
