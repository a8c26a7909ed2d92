"""Draws the sample pack shipped in packs/emojid_sample (run once; output is committed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SHAPES = {
    "sample_smile": ("#ffcc33", "smile"),
    "sample_heart": ("#e0245e", "heart"),
    "sample_star": ("#f5b301", "star"),
    "sample_check": ("#2ca01c", "check"),
}


def draw(kind: str, color: str) -> Image.Image:
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if kind == "smile":
        d.ellipse((4, 4, 60, 60), fill=color, outline="black", width=2)
        d.ellipse((20, 20, 26, 28), fill="black")
        d.ellipse((38, 20, 44, 28), fill="black")
        d.arc((16, 24, 48, 50), 20, 160, fill="black", width=3)
    elif kind == "heart":
        d.ellipse((6, 10, 34, 38), fill=color)
        d.ellipse((30, 10, 58, 38), fill=color)
        d.polygon([(8, 30), (56, 30), (32, 58)], fill=color)
    elif kind == "star":
        pts = [(32, 4), (40, 24), (60, 24), (44, 38), (50, 58), (32, 46), (14, 58), (20, 38), (4, 24), (24, 24)]
        d.polygon(pts, fill=color, outline="black")
    else:
        d.rounded_rectangle((4, 4, 60, 60), 10, fill=color)
        d.line([(16, 34), (28, 46), (48, 18)], fill="white", width=7)
    return im


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    files = {}
    for shortcode, (color, kind) in SHAPES.items():
        draw(kind, color).save(target / f"{shortcode}.png", optimize=True)
        files[shortcode] = f"{shortcode}.png"
    doc = {
        "files": files,
        "pack": {
            "description": "A small sample pack drawn for emojid",
            "homepage": "https://github.com/emojid/emojid",
            "license": "CC0-1.0",
            "share-files": True,
        },
        "files_count": len(files),
    }
    (target / "pack.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "packs/emojid_sample"))
