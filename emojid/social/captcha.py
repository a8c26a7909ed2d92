"""The built-in captcha (Pleroma's `native` provider): a distorted word drawn with Pillow.

Each captcha has a token and an answer_data the client sends back with its
solution; it is checked once (right or wrong) and expires after
`captcha_seconds_valid`. Error texts are Pleroma's, wrapped as its frontend
expects: `{"captcha": ["..."]}` serialised into the error string.
"""

from __future__ import annotations

import base64
import hmac
import io
import json
import random
import secrets
import time

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from emojid.config import Config
from emojid.errors import BadRequest
from emojid.social.index import SocialIndex
from emojid.social.index.registration import CaptchaRow

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L look-alikes
LENGTH = 5
FIELDS = ("captcha_solution", "captcha_token", "captcha_answer_data")


def captcha_error(message: str) -> BadRequest:
    return BadRequest(json.dumps({"captcha": [message]}))


def draw(text: str, rng: random.Random) -> bytes:
    width, height = 40 * len(text) + 30, 80
    image = Image.new("RGB", (width, height), (245, 245, 240))
    canvas = ImageDraw.Draw(image)
    for _ in range(6):
        canvas.line([(rng.randrange(width), rng.randrange(height)) for _ in range(2)],
                    fill=tuple(rng.randrange(90, 200) for _ in range(3)), width=2)
    font = ImageFont.load_default(size=44)
    for i, char in enumerate(text):
        glyph = Image.new("L", (60, 70), 0)
        ImageDraw.Draw(glyph).text((8, 4), char, font=font, fill=255)
        glyph = glyph.rotate(rng.uniform(-28, 28), resample=Image.Resampling.BICUBIC)
        color = tuple(rng.randrange(10, 110) for _ in range(3))
        image.paste(Image.new("RGB", glyph.size, color), (15 + i * 40, rng.randrange(0, 12)), glyph)
    for _ in range(width * height // 40):
        image.putpixel((rng.randrange(width), rng.randrange(height)),
                       tuple(rng.randrange(256) for _ in range(3)))
    image = image.filter(ImageFilter.SMOOTH)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


class Captchas:
    def __init__(self, index: SocialIndex, config: Config) -> None:
        self.index = index
        self.enabled = config.instance.captcha_enabled
        self.seconds_valid = config.instance.captcha_seconds_valid

    def new(self) -> dict:
        if not self.enabled:
            return {"type": "none"}
        rng = random.Random(secrets.randbits(64))
        answer = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        token = secrets.token_urlsafe(10)
        answer_data = secrets.token_urlsafe(24)
        now = time.time()
        self.index.insert_captcha(CaptchaRow(token, answer, answer_data, now, False), now - self.seconds_valid)
        png = draw(answer, rng)
        return {
            "type": "native",
            "token": token,
            "url": "data:image/png;base64," + base64.b64encode(png).decode(),
            "answer_data": answer_data,
            "seconds_valid": self.seconds_valid,
        }

    def validate(self, params: dict) -> None:
        """Raises BadRequest unless the params hold a fresh, unused, correctly solved captcha."""
        if not self.enabled:
            return
        for name in FIELDS:
            if not isinstance(params.get(name), str):
                raise captcha_error(f"Invalid CAPTCHA (Missing parameter: {name})")
        row = self.index.take_captcha(params["captcha_token"])
        if row is None or not hmac.compare_digest(row.answer_data.encode(), params["captcha_answer_data"].encode()):
            raise captcha_error("Invalid answer data")
        if row.created < time.time() - self.seconds_valid:
            raise captcha_error("CAPTCHA expired")
        if row.used:
            raise captcha_error("CAPTCHA already used")
        solution = params["captcha_solution"].strip().upper()
        if not hmac.compare_digest(solution.encode(), row.answer.encode()):
            raise captcha_error("Invalid CAPTCHA")
