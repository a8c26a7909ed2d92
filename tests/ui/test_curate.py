"""An admin at work in the browser: logging in, packs, uploads, renames, deletes, metadata.

Every edit goes through PackService: each test checks the pack store or the API
afterwards, not only the page.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conftest import Server, serving
from tests.helpers import png_bytes, zip_bytes
from tests.ui.conftest import art_pack, face_png, log_in, new_page, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="module")

PACK_API = "/api/v1/pleroma/emoji/pack"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    def prepare(config) -> None:
        art_pack(config.packs_dir, "faces", {"smile": face_png("#ffb703", 0), "wink": face_png("#4361ee", 3),
                                             "meh": face_png("#8d99ae", 2)}, {"license": "CC0-1.0"})
        art_pack(config.packs_dir, "elsewhere", {"taken": face_png("#e63946", 1)})

    async with serving(tmp_path_factory.mktemp("ui-curate"), prepare=prepare) as s:
        yield s


async def pack_files(server: Server, name: str) -> dict[str, str]:
    async with server.anon() as c:
        r = await c.get(PACK_API, params={"name": name, "page_size": 1000})
    assert r.status_code == 200, r.text
    return r.json()["files"]


async def test_login_with_a_bad_then_a_good_password(server, browser):
    page = await new_page(browser, server)
    await page.goto("/ui/login")
    await page.get_by_label("Username").fill("admin")
    await page.get_by_label("Password").fill("wrong")
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("alert").get_by_text("Wrong username or password.").wait_for()
    assert page.url.endswith("/ui/login")
    assert await page.get_by_label("Username").input_value() == "admin"
    assert not [c for c in await page.context.cookies() if c["name"] == "_pleroma_key"]
    await page.get_by_label("Password").fill("adminpass")
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(re.compile(r"/ui/$"))
    await page.get_by_text("@admin").wait_for()
    session = [c for c in await page.context.cookies() if c["name"] == "_pleroma_key"][0]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    # Logging out ends the session.
    await page.get_by_role("button", name="Log out").click()
    await page.get_by_text("You are logged out.").wait_for()
    assert await page.get_by_role("link", name="Log in").count() == 1
    assert page.errors == []
    await page.context.close()


async def test_a_plain_user_may_look_but_not_edit(server, browser):
    page = await new_page(browser, server)
    await log_in(page, "user", "userpass")
    assert await page.get_by_role("button", name="New pack").count() == 0
    await page.goto("/ui/packs/faces")
    await page.get_by_role("img", name=":smile:").wait_for()
    assert await page.get_by_label("Add emoji").count() == 0
    assert await page.get_by_role("button", name="Delete :smile:").count() == 0
    await page.context.close()


async def test_create_a_pack(server, browser):
    page = await new_page(browser, server)
    await log_in(page)
    await page.get_by_role("button", name="New pack").click()
    await page.get_by_label("Pack name").fill("fresh")
    await page.get_by_role("button", name="Create").click()
    await page.wait_for_url(re.compile(r"/ui/packs/fresh\?notice=created$"))
    await page.get_by_role("heading", name="fresh", level=1).wait_for()
    assert (server.packs_dir / "fresh" / "pack.json").is_file()
    # The service's rules and words: a second pack of that name is refused, in place.
    await page.goto("/ui/")
    await page.get_by_role("button", name="New pack").click()
    await page.get_by_label("Pack name").fill("fresh")
    await page.get_by_role("button", name="Create").click()
    await page.get_by_role("alert").wait_for()
    assert "exists" in (await page.get_by_role("alert").inner_text()).lower()
    assert page.errors == []
    await page.context.close()


async def test_upload_images_and_a_zip_with_a_result_per_file(server, browser):
    page = await new_page(browser, server)
    await log_in(page)
    await page.goto("/ui/")
    await page.get_by_role("button", name="New pack").click()
    await page.get_by_label("Pack name").fill("uploads")
    await page.get_by_role("button", name="Create").click()
    await page.get_by_label("Add emoji").wait_for()
    await page.get_by_label("Add emoji").set_input_files([
        {"name": "sun.png", "mimeType": "image/png", "buffer": face_png("#ffb703", 0)},
        {"name": "moon.png", "mimeType": "image/png", "buffer": face_png("#8d99ae", 2)},
        {"name": "taken.png", "mimeType": "image/png", "buffer": png_bytes("red")},
        {"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image at all"},
    ])
    await page.get_by_role("button", name="Upload").click()
    results = page.locator(".upload-results")
    await results.get_by_text("2 added").wait_for()
    text = await results.inner_text()
    assert re.search(r"(?i)added\s+sun\.png as :sun:", text) and re.search(r"(?i)added\s+moon\.png as :moon:", text)
    assert re.search(r"(?i)skipped\s+taken\.png: .*already exists", text)
    assert re.search(r"(?i)skipped\s+notes\.png: ", text)
    # In place: the grid and the count followed, no reload.
    await page.get_by_role("img", name=":sun:").wait_for()
    assert await page.locator("#emoji-count").inner_text() == "2 emoji"
    assert await page.get_by_label("Add emoji").input_value() == ""

    archive = zip_bytes({"zipped/star.png": face_png("#9b5de5", 1), "zipped/sun.png": png_bytes("blue"),
                         "readme.txt": b"hello", "bad name!.png": png_bytes("green")})
    await page.get_by_label("Add emoji").set_input_files(
        [{"name": "more.zip", "mimeType": "application/zip", "buffer": archive}])
    await page.get_by_role("button", name="Upload").click()
    await results.get_by_text("1 added").wait_for()
    text = await results.inner_text()
    assert re.search(r"(?i)added\s+zipped/star\.png as :star:", text)
    assert re.search(r"(?i)skipped\s+zipped/sun\.png: :sun: is already in this pack", text)
    assert re.search(r"(?i)skipped\s+readme\.txt: not an emoji file type", text)
    assert re.search(r"(?i)skipped\s+bad name!\.png: the shortcode", text)
    await page.get_by_role("img", name=":star:").wait_for()
    assert await pack_files(server, "uploads") == {"moon": "moon.png", "star": "zipped/star.png", "sun": "sun.png"}

    # Files dropped on the form are uploaded at once.
    drop = await page.evaluate_handle("""bytes => {
        const data = new DataTransfer();
        data.items.add(new File([Uint8Array.from(atob(bytes), c => c.charCodeAt(0))], "dropped.png",
                                {type: "image/png"}));
        return data;
    }""", base64.b64encode(face_png("#ef476f", 3)).decode())
    await page.locator("form[data-dropzone]").dispatch_event("drop", {"dataTransfer": drop})
    await results.get_by_text("dropped.png").wait_for()
    await page.get_by_role("img", name=":dropped:").wait_for()
    assert page.errors == []
    await page.context.close()


async def test_rename_an_emoji(server, browser):
    art_pack(server.packs_dir, "renames", {"blobcat": face_png("#ffb703", 0), "other": face_png("#2a9d8f", 1)})
    page = await new_page(browser, server)
    await log_in(page)
    await page.goto("/ui/packs/renames")
    await page.get_by_role("button", name="Rename :blobcat:").click()
    field = page.get_by_label("New shortcode")
    assert await field.input_value() == "blobcat"
    # htmx focuses the autofocus field once the swap has settled.
    await page.wait_for_function("document.activeElement && document.activeElement.name === 'new_shortcode'",
                                 timeout=3000)
    # A taken shortcode: the service's refusal, shown in the form.
    await field.fill("taken")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_role("alert").get_by_text("already used").wait_for()
    await page.get_by_label("New shortcode").fill("catblob")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_role("img", name=":catblob:").wait_for()
    assert await page.get_by_role("img", name=":blobcat:").count() == 0
    assert await page.get_by_role("button", name="Rename :catblob:").count() == 1
    assert await pack_files(server, "renames") == {"catblob": "blobcat.png", "other": "other.png"}
    assert page.errors == []
    await page.context.close()


async def said(locator) -> str:
    """An element's text as a screen reader has it (its visually hidden words too), on one line."""
    return " ".join((await locator.inner_text()).split())


async def emoji_api(server: Server, name: str) -> dict[str, dict]:
    """shortcode -> the per-emoji listing's entry (tags, license, ...)."""
    async with server.anon() as c:
        r = await c.get("/api/v1/emojid/packs/emoji", params={"name": name, "page_size": 500})
    assert r.status_code == 200, r.text
    return {e["shortcode"]: e for e in r.json()["emoji"]}


async def search_api(server: Server, query: str) -> list[str]:
    async with server.anon() as c:
        r = await c.get("/api/v1/emojid/search", params={"q": query})
    assert r.status_code == 200, r.text
    return [f"{hit['pack']}/{hit['shortcode']}" for hit in r.json()]


async def test_edit_tags_in_place_and_find_the_emoji_by_them(server, browser):
    art_pack(server.packs_dir, "tagging", {"blobcat": face_png("#ffb703", 0), "plain": face_png("#2a9d8f", 1)},
             tags={"blobcat": ["cat"]})
    page = await new_page(browser, server)
    await log_in(page)
    await page.goto("/ui/packs/tagging")
    tile = page.locator(".tile", has=page.get_by_role("img", name=":blobcat:", exact=True))
    assert await said(tile.locator(".tile-tags")) == "Tags: cat"
    assert await page.locator(".tile", has=page.get_by_role("img", name=":plain:")).locator(".tile-tags").count() == 0
    await page.get_by_role("button", name="Tags :blobcat:").click()
    field = page.get_by_label("Tags", exact=True)
    assert await field.input_value() == "cat"
    # htmx focuses the autofocus field once the swap has settled.
    await page.wait_for_function("document.activeElement && document.activeElement.name === 'tags'",
                                 timeout=3000)
    # The API's rules and words: a tag past 64 characters is refused, in the form.
    await field.fill("cat, " + "x" * 65)
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("alert").get_by_text("longer than 64 characters").wait_for()
    assert await page.get_by_label("Tags", exact=True).get_attribute("aria-invalid") == "true"
    assert (await emoji_api(server, "tagging"))["blobcat"]["tags"] == ["cat"]
    await page.get_by_label("Tags", exact=True).fill(" cat,  sleepy ,Kitten, cat ")
    await page.get_by_role("button", name="Save", exact=True).click()
    # In place: the tile is back, showing the new tags, with its buttons.
    await tile.locator(".tile-tags").get_by_text("cat, sleepy, Kitten").wait_for()
    assert await page.get_by_role("button", name="Tags :blobcat:").count() == 1
    assert await page.get_by_label("Tags", exact=True).count() == 0
    # The effect: pack.json holds them, the API shows them, search finds the emoji by them.
    doc = json.loads((server.packs_dir / "tagging" / "pack.json").read_text())
    assert doc["emojid"]["emoji"]["blobcat"]["tags"] == ["cat", "sleepy", "Kitten"]
    assert doc["files"] == {"blobcat": "blobcat.png", "plain": "plain.png"}
    assert (await emoji_api(server, "tagging"))["blobcat"]["tags"] == ["cat", "sleepy", "Kitten"]
    assert "tagging/blobcat" in await search_api(server, "kitten")
    await page.goto("/ui/")
    await page.get_by_label("Search emoji").fill("sleepy")
    await page.get_by_label("Search emoji").press("Enter")
    await page.get_by_role("heading", name="1 result for “sleepy”").wait_for()
    await page.locator(".results").get_by_role("img", name=":blobcat:").wait_for()
    # Cancel leaves the tags as they were; emptied, the field clears them.
    await page.goto("/ui/packs/tagging")
    await page.get_by_role("button", name="Tags :plain:").click()
    await page.get_by_label("Tags", exact=True).fill("green")
    await page.get_by_role("link", name="Cancel").click()
    await page.get_by_role("button", name="Tags :plain:").wait_for()
    assert (await emoji_api(server, "tagging"))["plain"]["tags"] == []
    await page.get_by_role("button", name="Tags :plain:").click()
    await page.get_by_label("Tags", exact=True).fill("green, round")
    await screenshot(page, "tags")
    await page.get_by_role("button", name="Save", exact=True).click()
    plain = page.locator(".tile", has=page.get_by_role("img", name=":plain:"))
    await plain.locator(".tile-tags").get_by_text("green, round").wait_for()
    await page.get_by_role("button", name="Tags :plain:").click()
    await page.get_by_label("Tags", exact=True).fill("")
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("button", name="Tags :plain:").wait_for()
    assert await plain.locator(".tile-tags").count() == 0
    assert (await emoji_api(server, "tagging"))["plain"]["tags"] == []
    assert "tagging/plain" not in await search_api(server, "round")
    assert page.errors == []
    await page.context.close()


async def test_each_emoji_shows_its_own_licence(server, browser):
    art_pack(server.packs_dir, "licensed", {"mine": face_png("#ef476f", 0), "theirs": face_png("#00b4d8", 3)},
             {"license": "CC0-1.0"})
    async with server.admin() as c:
        r = await c.patch("/api/v1/emojid/packs/emoji", params={"name": "licensed", "shortcode": "theirs"},
                          json={"license": "CC-BY-4.0", "author": "Someone <else>"})
        assert r.status_code == 200, r.text
    page = await new_page(browser, server)
    await page.goto("/ui/packs/licensed")
    theirs = page.locator(".tile", has=page.get_by_role("img", name=":theirs:"))
    assert await said(theirs.locator(".tile-license")) == "Licence: CC-BY-4.0"
    mine = page.locator(".tile", has=page.get_by_role("img", name=":mine:"))
    assert await mine.locator(".tile-license").count() == 0
    # Its tags edited here, the licence stays: only the field given changes.
    await log_in(page)
    await page.goto("/ui/packs/licensed")
    await page.get_by_role("button", name="Tags :theirs:").click()
    await page.get_by_label("Tags", exact=True).fill("fish")
    await page.get_by_role("button", name="Save", exact=True).click()
    await theirs.locator(".tile-tags").get_by_text("fish").wait_for()
    assert await said(theirs.locator(".tile-license")) == "Licence: CC-BY-4.0"
    entry = (await emoji_api(server, "licensed"))["theirs"]
    assert (entry["tags"], entry["license"], entry["author"]) == (["fish"], "CC-BY-4.0", "Someone <else>")
    assert page.errors == []
    await page.context.close()


async def test_delete_an_emoji_only_once_confirmed(server, browser):
    art_pack(server.packs_dir, "deletes", {"keep": face_png("#80b918", 0), "drop": face_png("#e63946", 2)})
    page = await new_page(browser, server)
    await log_in(page)
    await page.goto("/ui/packs/deletes")
    asked = []

    async def dismiss(dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", dismiss)
    await page.get_by_role("button", name="Delete :drop:").click()
    await page.wait_for_timeout(300)
    assert asked == ["Delete :drop: from deletes?"]
    assert await page.get_by_role("img", name=":drop:").count() == 1
    assert "drop" in await pack_files(server, "deletes")

    async def accept(dialog) -> None:
        await dialog.accept()

    page.once("dialog", accept)
    await page.get_by_role("button", name="Delete :drop:").click()
    await page.get_by_role("img", name=":drop:").wait_for(state="detached")
    assert await page.locator("#emoji-count").inner_text() == "1 emoji"
    assert await pack_files(server, "deletes") == {"keep": "keep.png"}
    assert not (server.packs_dir / "deletes" / "drop.png").exists()
    # Focus stays in the grid, on the neighbour (moved there once the swap has settled).
    await page.wait_for_function("document.activeElement.closest('.tile') !== null", timeout=5000)
    assert page.errors == []
    await page.context.close()


async def test_delete_without_javascript_asks_on_a_page(server, browser):
    art_pack(server.packs_dir, "nojs", {"gone": face_png("#e63946", 2), "stays": face_png("#80b918", 0)})
    page = await new_page(browser, server, javascript=False)
    await log_in(page)
    await page.goto("/ui/packs/nojs")
    await page.get_by_role("button", name="Delete :gone:").click()
    await page.get_by_role("heading", name="Delete :gone:?").wait_for()
    await page.get_by_role("link", name="Cancel").click()
    await page.get_by_role("img", name=":gone:").wait_for()
    await page.get_by_role("button", name="Delete :gone:").click()
    await page.get_by_role("button", name="Delete :gone:").click()  # the confirmation page's button
    await page.get_by_text("Emoji deleted.").wait_for()
    assert await pack_files(server, "nojs") == {"stays": "stays.png"}
    # Renaming without JavaScript: a page with the form.
    await page.get_by_role("button", name="Rename :stays:").click()
    await page.get_by_label("New shortcode").fill("stayed")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Emoji renamed.").wait_for()
    assert await pack_files(server, "nojs") == {"stayed": "stays.png"}
    # Tags without JavaScript: a page with the form, then back to the pack.
    await page.get_by_role("button", name="Tags :stayed:").click()
    await page.get_by_role("heading", name="Tags of :stayed:").wait_for()
    await page.get_by_label("Tags", exact=True).fill("green, leaf")
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_text("Tags saved.").wait_for()
    tile = page.locator(".tile", has=page.get_by_role("img", name=":stayed:"))
    assert await said(tile.locator(".tile-tags")) == "Tags: green, leaf"
    assert (await emoji_api(server, "nojs"))["stayed"]["tags"] == ["green", "leaf"]
    # A refusal comes back on the form's page, with what was typed.
    await page.get_by_role("button", name="Tags :stayed:").click()
    await page.get_by_label("Tags", exact=True).fill(", ".join(f"t{i}" for i in range(40)))
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.get_by_role("alert").get_by_text("at most 32 tags").wait_for()
    assert (await page.get_by_label("Tags", exact=True).input_value()).startswith("t0, t1")
    assert (await emoji_api(server, "nojs"))["stayed"]["tags"] == ["green", "leaf"]
    await page.context.close()


async def test_edit_pack_metadata(server, browser):
    page = await new_page(browser, server)
    await log_in(page)
    await page.goto("/ui/packs/faces")
    await page.get_by_label("Description").fill("Faces <for> everyone")
    await page.get_by_label("License").fill("CC-BY-SA-4.0")
    await page.get_by_label("Homepage").fill("https://faces.example")
    await page.get_by_label("Share files").check()
    await page.get_by_role("button", name="Save pack").click()
    await page.get_by_text("Saved.").wait_for()
    facts = page.locator("#pack-facts")
    await facts.get_by_text("CC-BY-SA-4.0").wait_for()
    await facts.get_by_text("shared", exact=True).wait_for()
    doc = json.loads((server.packs_dir / "faces" / "pack.json").read_text())
    assert doc["pack"] == {"description": "Faces <for> everyone", "license": "CC-BY-SA-4.0",
                           "homepage": "https://faces.example", "share-files": True}
    async with server.anon() as c:
        meta = (await c.get(PACK_API, params={"name": "faces"})).json()["pack"]
    assert meta["can-download"] is True and meta["license"] == "CC-BY-SA-4.0"
    # Unticked and emptied: off and gone.
    await page.reload()
    await page.get_by_label("Share files").uncheck()
    await page.get_by_label("Homepage").fill("")
    await page.get_by_role("button", name="Save pack").click()
    await page.get_by_text("Saved.").wait_for()
    doc = json.loads((server.packs_dir / "faces" / "pack.json").read_text())
    assert doc["pack"] == {"description": "Faces <for> everyone", "license": "CC-BY-SA-4.0", "share-files": False}
    assert page.errors == []
    await page.context.close()


async def test_delete_a_pack(server, browser):
    art_pack(server.packs_dir, "doomed", {"x": face_png("#e63946", 1)})
    page = await new_page(browser, server)
    await log_in(page)
    await page.goto("/ui/packs/doomed")
    page.once("dialog", lambda dialog: dialog.dismiss())
    await page.get_by_role("button", name="Delete pack").click()
    await page.wait_for_timeout(300)
    assert (server.packs_dir / "doomed").is_dir()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete pack").click()
    await page.wait_for_url(re.compile(r"/ui/\?notice=pack-deleted$"))
    await page.get_by_text("Pack deleted.").wait_for()
    assert not (server.packs_dir / "doomed").exists()
    assert await page.get_by_role("link", name="doomed", exact=True).count() == 0
    await page.context.close()
