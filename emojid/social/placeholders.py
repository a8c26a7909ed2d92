"""The instance's default images (avatar, banner, mascot), drawn once with Pillow.

Pleroma ships these as files under /images/; emojid draws its own so the
URLs in account entities and the default mascot always resolve.
"""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw

# URL path -> what to draw; the mascot path is Pleroma's, which clients recognise.
AVATAR = "/images/avi.png"
BANNER = "/images/banner.png"
MASCOT = "/images/pleroma-fox-tan-smol.png"


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _avatar() -> bytes:
    im = Image.new("RGB", (128, 128), "#d8dee9")
    draw = ImageDraw.Draw(im)
    draw.ellipse((40, 18, 88, 66), fill="#81a1c1")
    draw.ellipse((16, 74, 112, 170), fill="#81a1c1")
    return _png(im)


def _banner() -> bytes:
    im = Image.new("RGB", (600, 200))
    draw = ImageDraw.Draw(im)
    for y in range(200):
        shade = 40 + y // 4
        draw.line((0, y, 600, y), fill=(shade, shade + 10, shade + 30))
    return _png(im)


def _mascot() -> bytes:
    im = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    draw.polygon([(30, 20), (62, 60), (30, 70)], fill="#f28c28")  # ears
    draw.polygon([(130, 20), (98, 60), (130, 70)], fill="#f28c28")
    draw.ellipse((25, 45, 135, 150), fill="#f28c28")  # head
    draw.polygon([(50, 110), (110, 110), (80, 150)], fill="#fff5e6")  # muzzle
    draw.ellipse((55, 80, 67, 92), fill="#222")  # eyes
    draw.ellipse((93, 80, 105, 92), fill="#222")
    draw.ellipse((74, 132, 86, 142), fill="#222")  # nose
    return _png(im)


_DRAW = {AVATAR: _avatar, BANNER: _banner, MASCOT: _mascot}


@functools.cache
def image(path: str) -> bytes | None:
    draw = _DRAW.get(path)
    return draw() if draw else None
