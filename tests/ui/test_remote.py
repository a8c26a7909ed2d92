"""Other servers in the browser: browse a second emojid's packs, download one, sync jobs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from emojid.emoji.ui.downloads import PHASES
from tests.conftest import Server, serving, wait_for
from tests.helpers import http_client
from tests.ui.conftest import (
    art_pack,
    demo_packs,
    log_in,
    new_page,
    noise_png,
    screenshot,
    slow_relay,
    ui_session,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOISY = 20


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


# Every status fragment the page receives, as it comes (the polls replace one another).
WATCH_PROGRESS = """target => {
    window.seenProgress = [];
    const note = () => {
        const box = target.querySelector(".download-progress");
        if (!box) return;
        const bar = box.querySelector("progress");
        window.seenProgress.push({phase: box.querySelector(".phase").textContent,
                                  text: box.querySelector(".progress-line, .alert").textContent
                                           .replace(/\\s+/g, " ").trim(),
                                  value: bar && bar.hasAttribute("value") ? Number(bar.value) : null});
    };
    new MutationObserver(note).observe(target, {childList: true, subtree: true});
}"""


async def test_a_download_shows_its_progress_until_installed(servers, browser):
    local, remote = servers
    # About 4 MB that does not compress, shared by the remote: a download worth watching.
    art_pack(remote.packs_dir, "noisy", {f"noise{i:02d}": noise_png(i, 256) for i in range(NOISY)},
             {"description": "Static.", "license": "CC0-1.0", "share-files": True})

    async def shared() -> bool:
        async with remote.anon() as c:
            r = await c.get("/api/v1/pleroma/emoji/pack", params={"name": "noisy", "page_size": 0})
        return r.status_code == 200 and bool(r.json()["pack"].get("download-sha256"))

    await wait_for(shared, timeout=20)
    # ~4 MB at 1.5 MB/s: a few seconds of "downloading" to watch.
    async with slow_relay(remote.url, 1_500_000) as far:
        page = await new_page(browser, local)
        await log_in(page)
        await page.goto(f"/ui/remote?url={far}")
        card = page.locator(".remote-card", has=page.get_by_role("heading", name="noisy", exact=True))
        await card.wait_for()
        result = card.locator(".download-result")
        await result.evaluate(WATCH_PROGRESS)
        await page.get_by_role("button", name="Download noisy").click()
        # The fragment comes at once and polls: bytes received of the archive's size.
        progress = result.locator(".download-progress")
        await progress.locator(".phase", has_text="downloading").wait_for()
        await result.get_by_text(re.compile(r"\d MB of 3\.\d MB")).wait_for()
        await screenshot(page, "download")
        await result.get_by_role("status").get_by_text("installed").wait_for(timeout=30_000)
        await result.get_by_role("link", name="noisy").wait_for()
        seen = await page.evaluate("window.seenProgress")
    phases = [s["phase"] for s in seen]
    assert phases[-1] == "installed", phases
    # Phases only go forward, through downloading with its bytes counted up to the whole.
    assert [PHASES.index(p) for p in phases] == sorted(PHASES.index(p) for p in phases), phases
    downloading = [s for s in seen if s["phase"] == "downloading"]
    assert len(downloading) >= 3, phases
    percents = [s["value"] for s in downloading if s["value"] is not None]
    assert percents == sorted(percents) and any(0 < p < 100 for p in percents), percents
    assert any(re.fullmatch(r"downloading \d(\.\d)? MB of 3\.\d MB", s["text"]) for s in downloading), downloading
    assert re.search(r"installed Downloaded and verified as noisy \(3\.\d MB, 20 files\)\.", seen[-1]["text"]), seen
    # The effect: the pack is installed, listed by the API, its files the remote's bytes.
    for i in (0, NOISY - 1):
        assert (local.packs_dir / "noisy" / f"noise{i:02d}.png").read_bytes() == \
            (remote.packs_dir / "noisy" / f"noise{i:02d}.png").read_bytes()
    async with local.anon() as c:
        listed = (await c.get("/api/v1/pleroma/emoji/packs")).json()["packs"]
    assert len(listed["noisy"]["files"]) == NOISY
    assert page.errors == []
    await page.context.close()


async def test_a_failed_download_says_why_and_stops_polling(servers, browser):
    local, remote = servers
    page = await new_page(browser, local)
    await log_in(page)
    await page.goto(f"/ui/remote?url={remote.url}")
    card = page.locator(".remote-card", has=page.get_by_role("heading", name="hearts", exact=True))
    await card.get_by_label("Save as").fill("bad/name")
    await page.get_by_role("button", name="Download hearts").click()
    await card.locator(".download-result").get_by_role("alert").wait_for()
    assert not (local.packs_dir / "bad").exists()
    # Refused by the service while it runs: the fragment ends "failed", with the reason.
    async with local.admin() as c:
        assert (await c.post("/api/v1/pleroma/emoji/pack", params={"name": "taken"})).status_code == 200
    before = (local.packs_dir / "taken" / "pack.json").read_bytes()
    await card.get_by_label("Save as").fill("taken")
    await page.get_by_role("button", name="Download hearts").click()
    failed = card.locator(".download-progress.phase-failed")
    await failed.get_by_role("alert").get_by_text("already exists").wait_for()
    assert await failed.get_attribute("hx-trigger") is None
    assert [p.name for p in (local.packs_dir / "taken").iterdir()] == ["pack.json"]
    assert (local.packs_dir / "taken" / "pack.json").read_bytes() == before
    assert page.errors == []
    await page.context.close()


async def test_download_without_javascript_waits_and_goes_to_the_pack(servers, browser):
    local, remote = servers
    page = await new_page(browser, local, javascript=False)
    await log_in(page)
    await page.goto(f"/ui/remote?url={remote.url}")
    hearts = page.locator(".remote-card", has=page.get_by_role("heading", name="hearts", exact=True))
    await hearts.get_by_label("Save as").fill("hearts_plain")
    await page.get_by_role("button", name="Download hearts").click()
    await page.wait_for_url(re.compile(r"/ui/packs/hearts_plain\?notice=downloaded$"))
    await page.get_by_text("Pack downloaded.").wait_for()
    await page.get_by_role("img", name=":heart_red:").wait_for()
    assert (local.packs_dir / "hearts_plain" / "heart_red.png").read_bytes() == \
        (remote.packs_dir / "hearts" / "heart_red.png").read_bytes()
    # Again: the name is taken now, and the page says so.
    await page.goto(f"/ui/remote?url={remote.url}")
    await hearts.get_by_label("Save as").fill("hearts_plain")
    await page.get_by_role("button", name="Download hearts").click()
    await page.get_by_role("alert").get_by_text("already exists").wait_for()
    await page.context.close()


async def test_the_status_of_a_download_is_for_admins(servers):
    local, remote = servers
    async with ui_session(local) as admin:
        page = (await admin.get("/ui/remote", params={"url": remote.url})).text
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page).group(1)
        r = await admin.post("/ui/remote/download", data={"_csrf_token": token, "url": remote.url, "name": "stars"},
                             headers={"hx-request": "true"})
        assert r.status_code == 200 and 'hx-trigger="every 500ms"' in r.text, r.text
        status_url = re.search(r'hx-get="(/ui/remote/downloads/[^"]+)"', r.text).group(1)

        async def ended() -> str | None:
            answer = await admin.get(status_url, headers={"hx-request": "true"})
            return answer.text if "hx-trigger" not in answer.text else None

        text = await wait_for(ended, timeout=15)
        # stars is not shared: the service's refusal, as the API words it.
        assert "phase-failed" in text and "not set as shared" in text
        page = await admin.get(status_url)
        assert page.status_code == 200 and "Download of stars" in page.text
    async with ui_session(local, "user", "userpass") as user:
        r = await user.get(status_url)
        assert r.status_code == 403 and "phase-" not in r.text
    async with http_client(base_url=local.url) as anon:
        r = await anon.get(status_url)
        assert r.status_code == 403
        assert (await anon.get("/ui/remote/downloads/nope")).status_code == 403
    async with ui_session(local) as admin:
        assert (await admin.get("/ui/remote/downloads/nope")).status_code == 404


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
        async with http_client(base_url=remote.url) as c:
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
