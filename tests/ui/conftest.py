"""The web UI in a real browser: Playwright driving Debian's Chromium.

Playwright cannot download its own browsers here, so it launches
/usr/bin/chromium (the Debian package `chromium`; `.ci/run` installs it). Without
it, every browser test skips with one line saying what to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import os
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from PIL import Image, ImageDraw

from tests.helpers import http_client

CHROMIUM = Path(os.environ.get("EMOJID_CHROMIUM", "/usr/bin/chromium"))
NO_CHROMIUM = f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium (the Debian package)"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 860}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Every browser test skipped for want of Chromium reports from here: `-ra` folds them
    into one line."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and report.longrepr[2].endswith(NO_CHROMIUM):
        report.longrepr = (__file__, _skip_without_chromium.__code__.co_firstlineno + 2, report.longrepr[2])
    return report


def _skip_without_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[object]:
    _skip_without_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


async def new_page(browser, server, javascript: bool = True):
    """A fresh browser context (no cookies) with one page, failing loudly on page errors."""
    context = await browser.new_context(base_url=server.url, viewport=VIEWPORT, java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    # Script errors; an HTTP error status is a page's answer, not a script's fault.
    page.on("console", lambda message: page.errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    return page


async def log_in(page, name: str = "admin", password: str = "adminpass") -> None:
    await page.goto("/ui/login")
    await page.get_by_label("Username").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(re.compile(r"/ui/$"))


@contextlib.asynccontextmanager
async def ui_session(server, name: str = "admin", password: str = "adminpass") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client logged in through the UI's login form (cookies kept)."""
    async with http_client(base_url=server.url, timeout=30, follow_redirects=False) as client:
        r = await client.get("/ui/login")
        r = await client.post("/ui/login", data={"_csrf_token": csrf_of(r.text), "username": name,
                                                 "password": password})
        assert r.status_code == 303, r.text
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# -- emoji worth looking at ---------------------------------------------------------------

PALETTE = ["#ffb703", "#fb8500", "#e63946", "#ff6fae", "#9b5de5", "#4361ee", "#00b4d8", "#2a9d8f",
           "#80b918", "#f4a261", "#8d99ae", "#ef476f"]


def face_png(color: str, mood: int = 0, size: int = 128) -> bytes:
    """A round blob face; `mood` picks eyes and mouth."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    s = size / 128
    draw.ellipse((8 * s, 10 * s, 120 * s, 122 * s), fill=color, outline="#00000030", width=int(3 * s))
    eye = "#2b2d42"
    if mood % 4 == 3:  # winking
        draw.ellipse((38 * s, 46 * s, 52 * s, 62 * s), fill=eye)
        draw.line((76 * s, 54 * s, 92 * s, 54 * s), fill=eye, width=int(5 * s))
    else:
        draw.ellipse((38 * s, 46 * s, 52 * s, 62 * s), fill=eye)
        draw.ellipse((76 * s, 46 * s, 90 * s, 62 * s), fill=eye)
    if mood % 4 == 0:
        draw.arc((38 * s, 58 * s, 90 * s, 98 * s), 20, 160, fill=eye, width=int(6 * s))
    elif mood % 4 == 1:
        draw.ellipse((54 * s, 76 * s, 74 * s, 96 * s), fill=eye)
    elif mood % 4 == 2:
        draw.line((46 * s, 86 * s, 82 * s, 86 * s), fill=eye, width=int(6 * s))
    else:
        draw.pieslice((42 * s, 66 * s, 86 * s, 100 * s), 0, 180, fill=eye)
    if mood % 3 == 0:
        draw.ellipse((24 * s, 70 * s, 38 * s, 80 * s), fill="#ff8fab90")
        draw.ellipse((92 * s, 70 * s, 106 * s, 80 * s), fill="#ff8fab90")
    return _png(image)


def heart_png(color: str, size: int = 128) -> bytes:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = []
    for step in range(200):
        t = 2 * math.pi * step / 200
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((size / 2 + x * size / 38, size / 2 - y * size / 38 + 4))
    draw.polygon(points, fill=color)
    draw.ellipse((size * .3, size * .28, size * .42, size * .4), fill="#ffffff70")
    return _png(image)


def star_png(color: str, size: int = 128) -> bytes:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = []
    for i in range(10):
        radius = size * (.46 if i % 2 == 0 else .2)
        angle = math.pi / 2 + i * math.pi / 5
        points.append((size / 2 + radius * math.cos(angle), size / 2 - radius * math.sin(angle) + 4))
    draw.polygon(points, fill=color)
    return _png(image)


def noise_png(seed: int, size: int = 128) -> bytes:
    """Coloured noise: a PNG that does not compress (about 3 bytes a pixel), for packs of
    a size worth watching come in."""
    rng = random.Random(seed)
    return _png(Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3)))


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def art_pack(packs_dir: Path, name: str, images: dict[str, bytes], meta: dict | None = None,
             tags: dict[str, list[str]] | None = None) -> Path:
    """A pack on disk (Pleroma's layout) with these images; `tags` go to emoji.txt."""
    directory = packs_dir / name
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for shortcode, data in images.items():
        (directory / f"{shortcode}.png").write_bytes(data)
        files[shortcode] = f"{shortcode}.png"
    doc = {"files": files, "pack": meta or {}, "files_count": len(files)}
    (directory / "pack.json").write_text(json.dumps(doc, indent=2))
    if tags:
        lines = [f"{shortcode}, {files[shortcode]}, {', '.join(t)}" for shortcode, t in tags.items()]
        (directory / "emoji.txt").write_text("\n".join(lines) + "\n")
    return directory


def demo_packs(packs_dir: Path) -> None:
    """What the screenshots show: a few packs of drawn emoji."""
    blobs = {name: face_png(PALETTE[i % len(PALETTE)], i) for i, name in enumerate([
        "blobcat", "blobfox", "blobhappy", "blobwink", "blobsurprised", "blobmeh", "blobsmile", "blobgrin",
        "blobpeek", "blobhug", "blobsleep", "blobthink", "blobwave", "blobcool", "blobshy", "blobparty",
        "blobheart", "blobowo", "blobnom", "blobangry"])}
    art_pack(packs_dir, "blobs", blobs, {"description": "Round, friendly faces for every mood.",
                                         "license": "CC-BY-4.0", "homepage": "https://blobs.example",
                                         "share-files": True},
             tags={"blobcat": ["cat", "animal"], "blobfox": ["fox", "animal"]})
    hearts = {f"heart_{c}": heart_png(color) for c, color in [
        ("red", "#e63946"), ("pink", "#ff6fae"), ("orange", "#fb8500"), ("yellow", "#ffb703"),
        ("green", "#2a9d8f"), ("blue", "#4361ee"), ("purple", "#9b5de5"), ("black", "#2b2d42")]}
    art_pack(packs_dir, "hearts", hearts, {"description": "Hearts in eight colours.", "license": "CC0-1.0",
                                           "share-files": True})
    stars = {f"star_{i}": star_png(PALETTE[(i * 5) % len(PALETTE)]) for i in range(10)}
    art_pack(packs_dir, "stars", stars, {"description": "Stars to hand out.", "license": "MIT"})
    art_pack(packs_dir, "drafts", {"catblob_wip": face_png("#8d99ae", 2)}, {"description": "Work in progress."})


# -- a slow network ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def slow_relay(target: str, bytes_per_second: int) -> AsyncIterator[str]:
    """A TCP relay to `target` (http://host:port) that passes the answers on at about
    `bytes_per_second`: a slow link between two servers, nothing of emojid's replaced.
    Yields the relay's URL."""
    parts = urlsplit(target)
    tasks: set[asyncio.Task] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rate: int | None) -> None:
        try:
            while data := await reader.read(8192):
                writer.write(data)
                await writer.drain()
                if rate:
                    await asyncio.sleep(len(data) / rate)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError:
            client_writer.close()
            return
        both = asyncio.gather(pipe(client_reader, writer, None), pipe(reader, client_writer, bytes_per_second))
        task = asyncio.ensure_future(both)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
