"""Other servers in the browser: browse a second emojid's packs, download one, sync jobs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.conftest import Server, serving, wait_for
from tests.ui.conftest import demo_packs, log_in, new_page, screenshot, ui_session

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Server, Server]]:
    """(local, remote): the local server may reach loopback and mirrors the remote's hearts."""
    async with serving(tmp_path_factory.mktemp("ui-remote"), prepare=lambda c: demo_packs(c.packs_dir)) as remote:
        extra = f"""
[remote]
allow_private_addresses = true

[[sync]]
url = "{remote.url}"
packs = ["hearts"]
interval_seconds = 86400
as = "mirror_"
"""
        async with serving(tmp_path_factory.mktemp("ui-local"), extra) as local:
            yield local, remote


async def test_browse_a_remote_and_download_a_pack(servers, browser):
    local, remote = servers
    page = await new_page(browser, local)
    await log_in(page)
    await page.goto("/ui/remote")
    await page.get_by_label("Server URL").fill(remote.url)
    await page.get_by_role("button", name="Browse").click()
    await page.get_by_role("heading", name=f"4 packs on {remote.url}").wait_for()
    blobs = page.locator(".remote-card", has=page.get_by_role("heading", name="blobs", exact=True))
    assert "20 emoji" in await blobs.inner_text() and "CC-BY-4.0" in await blobs.inner_text()
    # The previews come from the remote server, which the page's CSP allows for images only.
    await page.wait_for_load_state("networkidle")
    assert await blobs.locator(".previews img").count() == 6
    assert await page.evaluate("[...document.querySelectorAll('.remote-card img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")
    stars = page.locator(".remote-card", has=page.get_by_role("heading", name="stars", exact=True))
    assert "Not shared for download." in await stars.inner_text()
    assert await page.get_by_role("button", name="Download stars").count() == 0

    await page.get_by_role("button", name="Download blobs").click()
    result = blobs.locator(".download-result")
    await result.get_by_text("Downloaded and verified as").wait_for()
    assert (local.packs_dir / "blobs" / "blobcat.png").read_bytes() == \
        (remote.packs_dir / "blobs" / "blobcat.png").read_bytes()
    # A second time, the name is taken: the service's refusal, in the card.
    await page.get_by_role("button", name="Download blobs").click()
    await result.get_by_role("alert").get_by_text("already exists").wait_for()
    # Under another name it goes.
    await blobs.get_by_label("Save as").fill("blobs_too")
    await page.get_by_role("button", name="Download blobs").click()
    await result.get_by_role("link", name="blobs_too").wait_for()
    await page.reload()
    await page.get_by_role("heading", name="Mirrored here").wait_for()
    mirrors = page.locator(".mirrors")
    await mirrors.get_by_role("link", name="blobs_too").wait_for()
    assert remote.url in await mirrors.inner_text()
    await screenshot(page, "remote")

    await page.goto("/ui/packs/blobs")
    await page.get_by_role("img", name=":blobwink:").wait_for()
    await page.get_by_text(f"Mirrored from {remote.url}").wait_for()
    assert page.errors == []
    await page.context.close()


async def test_browsing_needs_an_admin(servers, browser):
    local, remote = servers
    page = await new_page(browser, local)
    await page.goto("/ui/remote")
    await page.get_by_label("Server URL").wait_for()
    await page.get_by_text("Only admins can browse other servers").wait_for()
    async with ui_session(local, "user", "userpass") as c:
        r = await c.get("/ui/remote", params={"url": remote.url})
        assert r.status_code == 403 and "Only admins" in r.text and "packs on" not in r.text
        r = await c.get("/ui/sync")
        assert "Only admins can see the sync jobs" in r.text and remote.url not in r.text
    await page.context.close()


async def test_a_remote_that_fails_says_why(servers, browser):
    local, _remote = servers
    async with ui_session(local) as c:
        r = await c.get("/ui/remote", params={"url": "http://127.0.0.1:9"})
        assert r.status_code >= 400 and "Could not browse http://127.0.0.1:9" in r.text
        r = await c.get("/ui/remote", params={"url": "not a url"})
        assert 400 <= r.status_code < 500 and "Could not browse" in r.text


async def test_sync_page_and_sync_now(servers, browser):
    local, remote = servers
    page = await new_page(browser, local)
    await log_in(page)
    await page.goto("/ui/sync")
    job = page.locator(".job", has=page.get_by_role("heading", name=remote.url))
    await job.wait_for()
    text = await job.inner_text()
    assert "hearts" in text and "1 day" in text and "mirror_" in text
    await page.get_by_role("button", name="Sync now").click()
    await job.locator(".state").get_by_text("ok", exact=True).wait_for()
    assert re.search(r"(?i)Last run\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC", await job.inner_text())
    assert (local.packs_dir / "mirror_hearts" / "pack.json").is_file()
    await page.wait_for_load_state("networkidle")
    await screenshot(page, "sync")
    # Edited here, the mirror is not overwritten: the job says "conflict".
    async def remote_sha() -> str | None:
        async with httpx.AsyncClient(base_url=remote.url) as c:
            r = await c.get("/api/v1/pleroma/emoji/pack", params={"name": "hearts"})
        return r.json()["pack"].get("download-sha256")

    before = await wait_for(remote_sha)
    (local.packs_dir / "mirror_hearts" / "heart_red.png").write_bytes(b"edited")
    (remote.packs_dir / "hearts" / "heart_red.png").write_bytes(
        (remote.packs_dir / "hearts" / "heart_blue.png").read_bytes())
    await wait_for(lambda: _changed(remote_sha, before))
    await page.get_by_role("button", name="Sync now").click()
    await job.locator(".state").get_by_text("conflict").wait_for()
    await job.get_by_role("link", name="mirror_hearts").first.wait_for()
    assert page.errors == []
    await page.context.close()


async def _changed(read, before: str) -> bool:
    now = await read()
    return now is not None and now != before
