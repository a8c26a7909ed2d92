"""The public pages in a browser: the packs, a pack, search; without JavaScript too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conftest import Server, serving, wait_for
from tests.helpers import http_client, png_bytes
from tests.ui.conftest import demo_packs, log_in, new_page, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="module")

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with serving(tmp_path_factory.mktemp("ui-browse"), prepare=lambda config: demo_packs(config.packs_dir)) as s:
        yield s


async def test_root_redirects_to_the_packs(server, browser):
    async with http_client(base_url=server.url) as c:
        r = await c.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    page = await new_page(browser, server)
    await page.goto("/")
    assert page.url == server.url + "/ui/"
    await page.context.close()


async def test_packs_page_lists_every_pack(server, browser):
    page = await new_page(browser, server)
    await page.goto("/ui/")
    await page.get_by_role("heading", name="Packs", exact=True).wait_for()
    for name in ("blobs", "hearts", "stars", "drafts"):
        await page.get_by_role("link", name=name, exact=True).wait_for()
    card = page.locator(".pack-card", has=page.get_by_role("link", name="blobs", exact=True))
    text = await card.inner_text()
    assert "20 emoji" in text and "CC-BY-4.0" in text and "shared" in text and "KB" in text
    assert await card.locator(".previews img").count() == 6
    drafts = page.locator(".pack-card", has=page.get_by_role("link", name="drafts", exact=True))
    assert "not shared" in await drafts.inner_text()
    await page.get_by_role("link", name="hearts", exact=True).click()
    await page.get_by_role("heading", name="hearts", level=1).wait_for()
    await screenshot_packs(page)
    assert page.errors == []
    await page.context.close()


async def screenshot_packs(page) -> None:
    await page.goto("/ui/")
    await page.wait_for_load_state("networkidle")
    await screenshot(page, "packs")


async def test_pack_page_shows_every_emoji_with_its_shortcode(server, browser):
    page = await new_page(browser, server)
    await page.goto("/ui/packs/blobs")
    await page.get_by_role("heading", name="blobs", level=1).wait_for()
    images = page.locator(".grid img")
    assert await images.count() == 20
    assert await images.first.get_attribute("loading") == "lazy"
    tile = page.locator(".tile", has=page.get_by_role("img", name=":blobcat:", exact=True))
    assert (await tile.locator(".code").inner_text()) == "blobcat"
    # Every image loaded, from this server, under the page's CSP.
    await page.wait_for_load_state("networkidle")
    assert await page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    await page.get_by_role("heading", name="Problems").wait_for()
    assert "No problems found." in await page.locator(".problems").inner_text()
    # Nothing to edit for someone not logged in.
    assert await page.get_by_role("button", name="Rename :blobcat:").count() == 0
    assert await page.get_by_label("Add emoji").count() == 0
    # An admin gets the workbench.
    await log_in(page)
    await page.goto("/ui/packs/blobs")
    await page.get_by_label("Add emoji").wait_for()
    await page.get_by_role("button", name="Rename :blobcat:").wait_for()
    await page.get_by_role("img", name=":blobcat:").hover()  # its Rename and Delete show
    await page.wait_for_load_state("networkidle")
    await screenshot(page, "pack")
    assert page.errors == []
    await page.context.close()


async def test_search_by_shortcode_and_tag(server, browser):
    page = await new_page(browser, server)
    await page.goto("/ui/")
    await page.get_by_label("Search emoji").fill("heart")
    await page.get_by_label("Search emoji").press("Enter")
    await page.get_by_role("heading", name="9 results for “heart”").wait_for()
    results = page.locator(".results img")
    alts = [await results.nth(i).get_attribute("alt") for i in range(await results.count())]
    # the search index's order: exact, then prefixes, then substrings, then tags; alphabetical within each
    assert alts[0] == ":heart_black:" and alts[-1] == ":blobheart:"
    assert {":heart_red:", ":heart_blue:"} <= set(alts)
    await page.wait_for_load_state("networkidle")
    await screenshot(page, "search")
    # A tag finds what its shortcode does not say.
    await page.get_by_label("Search emoji").fill("animal")
    await page.get_by_label("Search emoji").press("Enter")
    await page.get_by_role("img", name=":blobfox:").wait_for()
    assert await page.locator(".results img").count() == 2
    await page.get_by_label("Search emoji").fill("nothing-like-this")
    await page.get_by_label("Search emoji").press("Enter")
    await page.get_by_text("No emoji has “nothing-like-this”").wait_for()
    assert page.errors == []
    await page.context.close()


async def test_read_pages_work_without_javascript(server, browser):
    page = await new_page(browser, server, javascript=False)
    await page.goto("/ui/")
    await page.get_by_label("Search emoji").fill("blobc")
    await page.get_by_label("Search emoji").press("Enter")
    await page.get_by_role("img", name=":blobcat:").wait_for()
    await page.get_by_role("link", name="blobs", exact=True).first.click()
    await page.get_by_role("img", name=":blobwink:").wait_for()
    await log_in(page)
    await page.goto("/ui/packs/stars")
    await page.get_by_label("License").wait_for()
    await page.context.close()


async def test_a_file_added_by_hand_shows_on_reload(server, browser):
    page = await new_page(browser, server)
    await page.goto("/ui/packs/drafts")
    assert await page.get_by_role("img", name=":handmade:").count() == 0
    directory = server.packs_dir / "drafts"
    (directory / "handmade.png").write_bytes(png_bytes("teal", 64))
    doc = json.loads((directory / "pack.json").read_text())
    doc["files"]["handmade"] = "handmade.png"
    (directory / "pack.json").write_text(json.dumps(doc))

    async def indexed() -> bool:
        async with server.anon() as c:
            return "handmade" in (await c.get("/api/v1/pleroma/emoji/pack", params={"name": "drafts"})).json()["files"]

    await wait_for(indexed)
    await page.reload()
    await page.get_by_role("img", name=":handmade:").wait_for()
    await page.context.close()


async def test_keyboard_reaches_everything_with_a_visible_focus(server, browser):
    page = await new_page(browser, server)
    await page.goto("/ui/")
    await page.keyboard.press("Tab")
    focused = page.locator(":focus")
    assert await focused.inner_text() == "Skip to content"
    await page.keyboard.press("Enter")
    for _ in range(12):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "q":
            break
    else:
        pytest.fail("Tab never reached the search field")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    await page.context.close()
