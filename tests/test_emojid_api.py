"""emojid's own emoji API against real servers: the per-emoji listing, per-emoji metadata
(PATCH, pack.json, renames and removals, archives and mirrors), search and its index."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile

from emojid.emoji.index.catalog import search_queries
from tests.conftest import serving, wait_for
from tests.helpers import gif_bytes, png_bytes, webp_bytes, write_pack
from tests.remote.checks import PRIVATE_OK, assert_error

EMOJI = "/api/v1/emojid/packs/emoji"
SEARCH = "/api/v1/emojid/search"
PACK = "/api/v1/pleroma/emoji/pack"
FILES = "/api/v1/pleroma/emoji/packs/files"

COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "white"]
ENTRY_KEYS = {"shortcode", "filename", "url", "static_url", "sha256", "size", "width", "height", "animated", "tags",
              "license", "author", "source"}


def pack_json(server, name: str) -> dict:
    return json.loads((server.packs_dir / name / "pack.json").read_text())


def blobs(config) -> None:
    files = {f"e{i}": f"e{i}.png" for i in range(7)} | {"party": "anim/party.gif", "leaf": "leaf.webp"}
    images = {f"e{i}.png": png_bytes(COLORS[i], 10 + i) for i in range(7)}
    images |= {"anim/party.gif": gif_bytes(("red", "blue", "green"), 20), "leaf.webp": webp_bytes("green", 24)}
    write_pack(config.packs_dir, "blobs", files, {"share-files": False, "license": "CC0"}, images=images)


# -- the per-emoji listing -----------------------------------------------------------------


async def test_listing_pages_emoji_with_file_facts(tmp_path):
    async with serving(tmp_path / "s", prepare=blobs) as server, server.anon() as c:
        r = await c.get(EMOJI, params={"name": "blobs", "page_size": 4})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["pack"] == "blobs" and body["count"] == 9 and body["provenance"] == []
        assert [e["shortcode"] for e in body["emoji"]] == ["e0", "e1", "e2", "e3"]
        assert all(set(e) == ENTRY_KEYS for e in body["emoji"])
        e1 = body["emoji"][1]
        data = (server.packs_dir / "blobs" / "e1.png").read_bytes()
        assert e1["sha256"] == hashlib.sha256(data).hexdigest() and e1["size"] == len(data)
        assert (e1["width"], e1["height"], e1["animated"]) == (11, 11, False)
        assert e1["url"] == f"{server.url}/emoji/blobs/e1.png" and e1["static_url"] == e1["url"]
        assert e1["tags"] == [] and e1["license"] is None and e1["author"] is None and e1["source"] is None

        pages = []
        for page in (1, 2, 3, 4):
            r = await c.get(EMOJI, params={"name": "blobs", "page": page, "page_size": 4})
            pages.append([e["shortcode"] for e in r.json()["emoji"]])
        assert pages == [["e0", "e1", "e2", "e3"], ["e4", "e5", "e6", "leaf"], ["party"], []]

        body = (await c.get(EMOJI, params={"name": "blobs"})).json()  # default page size 50: everything
        party = next(e for e in body["emoji"] if e["shortcode"] == "party")
        assert party["animated"] is True and (party["width"], party["height"]) == (20, 20)
        assert party["static_url"] == f"{server.url}/emoji-static/blobs/anim/party.gif.png"
        leaf = next(e for e in body["emoji"] if e["shortcode"] == "leaf")
        assert leaf["animated"] is False and leaf["static_url"] == leaf["url"]

        r = await c.get(EMOJI, params={"name": "blobs", "page_size": 100_000})  # at most 500 a page
        assert r.status_code == 200 and len(r.json()["emoji"]) == 9
        assert_error(await c.get(EMOJI, params={"name": "nope"}), 404)
        assert_error(await c.get(EMOJI), 400)
        assert_error(await c.get(EMOJI, params={"name": "blobs", "page": "x"}), 400)


# -- per-emoji metadata ----------------------------------------------------------------------


async def test_patch_sets_metadata_in_pack_json_beside_what_pleroma_reads(tmp_path):
    async with serving(tmp_path / "s", prepare=blobs) as server, server.admin() as a, server.anon() as c:
        before = pack_json(server, "blobs")
        r = await a.patch(EMOJI, params={"name": "blobs", "shortcode": "e1"},
                          json={"license": "CC-BY-4.0", "author": "Alice", "source": "https://example.org/e1",
                                "tags": ["cat", "blob", "Cat"]})
        assert r.status_code == 200, r.text
        entry = r.json()
        assert set(entry) == ENTRY_KEYS
        assert (entry["license"], entry["author"], entry["source"]) == ("CC-BY-4.0", "Alice", "https://example.org/e1")
        assert entry["tags"] == ["cat", "blob"]  # case-insensitive duplicates go

        after = pack_json(server, "blobs")
        assert after["files"] == before["files"] and after["pack"] == before["pack"]
        assert after["files_count"] == before["files_count"]
        assert after["emojid"] == {"emoji": {"e1": {"license": "CC-BY-4.0", "author": "Alice",
                                                    "source": "https://example.org/e1", "tags": ["cat", "blob"]}}}
        # Pleroma's own view of the pack is untouched.
        shown = (await c.get(PACK, params={"name": "blobs"})).json()
        assert set(shown) == {"files", "files_count", "pack"} and "emojid" not in shown["pack"]
        # Tags show in the global lists too.
        custom = (await c.get("/api/v1/custom_emojis")).json()
        assert next(e for e in custom if e["shortcode"] == "e1")["tags"] == ["pack:blobs", "cat", "blob"]

        # Only what is given changes; null or "" clears one field.
        r = await a.patch(EMOJI, params={"name": "blobs", "shortcode": "e1"}, json={"author": None, "source": ""})
        assert r.status_code == 200 and (r.json()["author"], r.json()["source"]) == (None, None)
        assert r.json()["license"] == "CC-BY-4.0" and r.json()["tags"] == ["cat", "blob"]
        # A form works too (tags comma-separated).
        r = await a.patch(EMOJI, params={"name": "blobs", "shortcode": "e2"}, data={"tags": "dog, puppy", "license": "CC0"})
        assert r.status_code == 200 and r.json()["tags"] == ["dog", "puppy"], r.text
        listed = (await c.get(EMOJI, params={"name": "blobs"})).json()["emoji"]
        assert {e["shortcode"]: e["license"] for e in listed}["e2"] == "CC0"


async def test_patch_refuses_bad_input_and_callers(tmp_path):
    async with serving(tmp_path / "s", prepare=blobs) as server, server.admin() as a:
        where = {"name": "blobs", "shortcode": "e1"}
        before = (server.packs_dir / "blobs" / "pack.json").read_bytes()
        async with server.anon() as c:
            assert_error(await c.patch(EMOJI, params=where, json={"license": "x"}), 401)
        async with server.client(server.user_token) as u:
            assert_error(await u.patch(EMOJI, params=where, json={"license": "x"}), 403)
        async with server.client(server.tokens["admin_read"]) as ar:
            assert_error(await ar.patch(EMOJI, params=where, json={"license": "x"}), 403)
        for body, status in (({"license": 5}, 400), ({"tags": "x" * 65}, 422), ({"tags": [1, 2]}, 400),
                             ({"tags": [f"t{i}" for i in range(33)]}, 422), ({"author": "a" * 1025}, 422),
                             ({"license": "a\x07b"}, 422), ({"tags": ["a,b"]}, 422), ({"tags": [""]}, 422),
                             ({}, 400), ({"unrelated": "x"}, 400)):
            assert_error(await a.patch(EMOJI, params=where, json=body), status)
        assert_error(await a.patch(EMOJI, params={"name": "blobs", "shortcode": "nope"}, json={"license": "x"}), 404)
        assert_error(await a.patch(EMOJI, params={"name": "nope", "shortcode": "e1"}, json={"license": "x"}), 404)
        assert_error(await a.patch(EMOJI, params={"name": "blobs"}, json={"license": "x"}), 400)
        assert (server.packs_dir / "blobs" / "pack.json").read_bytes() == before


async def test_metadata_follows_renames_and_goes_with_removals(tmp_path):
    async with serving(tmp_path / "s", prepare=blobs) as server, server.admin() as a:
        for code, lic in (("e1", "L1"), ("e2", "L2"), ("e3", "L3")):
            r = await a.patch(EMOJI, params={"name": "blobs", "shortcode": code}, json={"license": lic})
            assert r.status_code == 200, r.text
        r = await a.patch(FILES, data={"name": "blobs", "shortcode": "e1", "new_shortcode": "one",
                                       "new_filename": "one.png"})
        assert r.status_code == 200, r.text
        # A forced rename over e3: e2 takes its name, e3's metadata goes with e3.
        r = await a.patch(FILES, data={"name": "blobs", "shortcode": "e2", "new_shortcode": "e3",
                                       "new_filename": "e2.png", "force": "true"})
        assert r.status_code == 200, r.text
        assert pack_json(server, "blobs")["emojid"]["emoji"] == {"one": {"license": "L1"}, "e3": {"license": "L2"}}
        r = await a.delete(FILES, params={"name": "blobs", "shortcode": "one"})
        assert r.status_code == 200, r.text
        assert pack_json(server, "blobs")["emojid"]["emoji"] == {"e3": {"license": "L2"}}
        # A new emoji under a removed shortcode starts without metadata.
        r = await a.post(FILES, data={"name": "blobs", "shortcode": "one"},
                         files={"file": ("x.png", png_bytes("black"), "image/png")})
        assert r.status_code == 200, r.text
        listed = {e["shortcode"]: e for e in (await a.get(EMOJI, params={"name": "blobs"})).json()["emoji"]}
        assert listed["one"]["license"] is None and listed["e3"]["license"] == "L2"


async def test_metadata_written_by_hand_is_read_leniently(tmp_path):
    def prepare(config):
        blobs(config)
        path = config.packs_dir / "blobs" / "pack.json"
        doc = json.loads(path.read_text())
        doc["emojid"] = {"emoji": {"e1": {"license": "MIT", "author": 7, "tags": ["ok", 3, "a,b"]},
                                   "gone": {"license": "x"}, "e2": "not an object"}, "future": True}
        path.write_text(json.dumps(doc))

    async with serving(tmp_path / "s", prepare=prepare) as server, server.admin() as a:
        listed = {e["shortcode"]: e for e in (await a.get(EMOJI, params={"name": "blobs"})).json()["emoji"]}
        assert (listed["e1"]["license"], listed["e1"]["author"], listed["e1"]["tags"]) == ("MIT", None, ["ok"])
        assert listed["e2"]["license"] is None
        # The next write keeps keys it does not know, and drops what lists no emoji.
        r = await a.patch(EMOJI, params={"name": "blobs", "shortcode": "e3"}, json={"author": "Bo"})
        assert r.status_code == 200, r.text
        ext = pack_json(server, "blobs")["emojid"]
        assert ext["future"] is True
        assert ext["emoji"] == {"e1": {"license": "MIT", "tags": ["ok"]}, "e3": {"author": "Bo"}}


async def test_metadata_travels_with_the_archive_and_a_mirror(tmp_path):
    def publish(config):
        blobs(config)
        path = config.packs_dir / "blobs" / "pack.json"
        doc = json.loads(path.read_text())
        doc["pack"]["share-files"] = True
        path.write_text(json.dumps(doc))

    async with serving(tmp_path / "remote", PRIVATE_OK, publish) as remote, \
            serving(tmp_path / "local", PRIVATE_OK) as local:
        async with remote.admin() as a:
            r = await a.patch(EMOJI, params={"name": "blobs", "shortcode": "party"},
                              json={"license": "CC-BY-SA-4.0", "author": "Carol", "source": "https://c.example",
                                    "tags": ["dance"]})
            assert r.status_code == 200, r.text
            archive = await a.get("/api/v1/pleroma/emoji/packs/archive", params={"name": "blobs"})
            assert archive.status_code == 200
            with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
                inside = json.loads(zf.read("pack.json"))
            assert inside["emojid"]["emoji"]["party"]["author"] == "Carol"
        async with local.admin() as b:
            r = await b.post("/api/v1/pleroma/emoji/packs/download", json={"url": remote.url, "name": "blobs",
                                                                            "as": "mirrored"})
            assert r.status_code == 200, r.text
            body = (await b.get(EMOJI, params={"name": "mirrored"})).json()
            party = next(e for e in body["emoji"] if e["shortcode"] == "party")
            assert (party["license"], party["author"], party["source"], party["tags"]) == \
                ("CC-BY-SA-4.0", "Carol", "https://c.example", ["dance"])
            [origin] = body["provenance"]
            assert origin["kind"] == "mirror" and origin["source"] == remote.url
            assert origin["remote_name"] == "blobs" and origin["format"] == "pleroma"
            assert origin["sha256"] == archive.headers["x-download-sha256"] and origin["emoji"] == 9
            assert origin["recorded_at"]
            found = (await b.get(SEARCH, params={"q": "dance"})).json()
            assert [(h["shortcode"], h["pack"]) for h in found] == [("party", "mirrored")]


# -- search ------------------------------------------------------------------------------------


def searchable(config) -> None:
    write_pack(config.packs_dir, "animals", {"cat": "cat.png", "catnap": "catnap.png", "blobcat": "blobcat.png",
                                             "Catalog": "catalog.png", "dog": "dog.gif", "fish": "fish.png"},
               images={"dog.gif": gif_bytes()})
    write_pack(config.packs_dir, "more", {"bobcat": "bobcat.png", "copycat_2": "c.png"})
    loose = config.packs_dir / "loose"
    loose.mkdir()
    (loose / "wildcat.png").write_bytes(png_bytes())
    (loose / "cat.png").write_bytes(png_bytes())  # shadowed by the pack's :cat:


async def test_search_ranks_exact_prefix_substring_then_tags(tmp_path):
    async with serving(tmp_path / "s", prepare=searchable) as server, server.admin() as a, server.anon() as c:
        r = await a.patch(EMOJI, params={"name": "animals", "shortcode": "dog"}, json={"tags": ["cat", "pet"]})
        assert r.status_code == 200, r.text
        r = await c.get(SEARCH, params={"q": "cat"})
        assert r.status_code == 200, r.text
        hits = r.json()
        assert [(h["shortcode"], h["pack"]) for h in hits] == [
            ("cat", "animals"),                                    # exact
            ("Catalog", "animals"), ("catnap", "animals"),         # prefix, case-insensitive
            ("blobcat", "animals"), ("bobcat", "more"), ("copycat_2", "more"), ("wildcat", "loose"),  # substring
            ("dog", "animals"),                                    # tag
        ]
        assert all(set(h) == {"shortcode", "pack", "url", "static_url", "tags"} for h in hits)
        dog = hits[-1]
        assert dog["tags"] == ["cat", "pet"] and dog["url"] == f"{server.url}/emoji/animals/dog.gif"
        assert dog["static_url"] == f"{server.url}/emoji-static/animals/dog.gif.png"

        assert [h["shortcode"] for h in (await c.get(SEARCH, params={"q": "CAT", "limit": 2})).json()] == \
            ["cat", "Catalog"]
        assert [h["shortcode"] for h in (await c.get(SEARCH, params={"q": "pet"})).json()] == ["dog"]
        assert [h["shortcode"] for h in (await c.get(SEARCH, params={"q": "ca"})).json()] == ["cat", "Catalog", "catnap"]
        assert [h["shortcode"] for h in (await c.get(SEARCH, params={"q": "t_2"})).json()] == ["copycat_2"]
        assert (await c.get(SEARCH, params={"q": "zebra"})).json() == []
        assert (await c.get(SEARCH, params={"q": "  "})).json() == []
        assert len((await c.get(SEARCH, params={"q": "a", "limit": 10_000})).json()) <= 200
        assert_error(await c.get(SEARCH), 400)
        assert_error(await c.get(SEARCH, params={"q": "cat", "limit": "many"}), 400)


async def test_search_follows_every_change_of_the_emoji(tmp_path):
    async with serving(tmp_path / "s", prepare=searchable) as server, server.admin() as a, server.anon() as c:
        async def found(q: str) -> list[str]:
            return [h["shortcode"] for h in (await c.get(SEARCH, params={"q": q})).json()]

        r = await a.patch(FILES, data={"name": "animals", "shortcode": "fish", "new_shortcode": "goldfish",
                                       "new_filename": "fish.png"})
        assert r.status_code == 200, r.text
        assert await found("fish") == ["goldfish"]
        await a.delete(FILES, params={"name": "animals", "shortcode": "goldfish"})
        assert await found("fish") == []
        # A pack added by hand: the watcher's refresh keeps the search current too.
        write_pack(server.packs_dir, "handmade", {"zebrafish": "z.png"})
        await wait_for(lambda: found("zebra"))
        assert await found("ebraf") == ["zebrafish"]
        await a.delete("/api/v1/pleroma/emoji/pack", params={"name": "handmade"})
        assert await found("zebra") == []
        # reindex rebuilds the rows: the search with them.
        from emojid.emoji.packs import PackService
        from emojid.migrations import open_database

        database = open_database(server.config.database_path)
        try:
            PackService.open(server.config, database).reindex_sync()
        finally:
            database.close()
        assert await found("bobcat") == ["bobcat"]


async def test_search_is_served_by_indexes_not_scans(tmp_path):
    async with serving(tmp_path / "s", prepare=searchable) as server:
        db = sqlite3.connect(server.config.database_path)
        try:
            for q in ("cat", "ca", "blobcat"):
                for sql, params in search_queries(q, 40):
                    plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
                    scans = [step for step in plan if step.startswith("SCAN") and "VIRTUAL TABLE INDEX 0:M" not in step]
                    assert scans == [], (sql, plan)
        finally:
            db.close()
