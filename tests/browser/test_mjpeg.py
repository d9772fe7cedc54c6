"""M-JPEG (samples/mjpeg.conf): JPEG images published as binary messages reach an <img> as the
parts of a multipart/x-mixed-replace stream, each replacing the last."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, cast

import trio
from conftest import ServeFactory

from .support import BrowserThread, in_browser, publish, site

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

# A JPEG of the given size and colour, made by the browser's canvas.
MAKE_JPEG = """([width, height, color]) => {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.fillStyle = color;
  context.fillRect(0, 0, width, height);
  return canvas.toDataURL("image/jpeg", 0.95).split(",")[1];
}"""

# The colour of the middle of what the <img> shows now.
SHOWN_COLOR = """() => {
  const img = document.getElementById("video");
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  return Array.from(context.getImageData(img.naturalWidth / 2, img.naturalHeight / 2, 1, 1).data);
}"""


def jpeg(page: Page, width: int, height: int, color: str) -> bytes:
    return base64.b64decode(cast(str, page.evaluate(MAKE_JPEG, [width, height, color])))


def shown(page: Page, width: int, height: int) -> list[int]:
    page.wait_for_function(
        "([w, h]) => { const img = document.getElementById('video');"
        " return img.naturalWidth === w && img.naturalHeight === h; }",
        arg=[width, height],
    )
    return cast(list[int], page.evaluate(SHOWN_COLOR))


def close_to(rgba: list[int], rgb: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 24 for a, b in zip(rgba, rgb, strict=False))


async def test_published_jpegs_replace_each_other_in_an_img(
    serve: ServeFactory, browser: BrowserThread
) -> None:
    def scenario(context: BrowserContext) -> None:
        page = context.new_page()
        page.goto(s.push_url("/mjpeg.html"), wait_until="domcontentloaded")
        frames = [(64, 48, "#ff0000", (255, 0, 0)), (96, 64, "#00ff00", (0, 255, 0)),
                  (40, 40, "#0000ff", (0, 0, 255))]  # fmt: skip
        images = [jpeg(page, w, h, css) for w, h, css, _ in frames]
        assert all(image.startswith(b"\xff\xd8") for image in images)
        page.wait_for_timeout(300)  # the <img> has subscribed
        for image, (width, height, _, rgb) in zip(images, frames, strict=True):
            publish(s.push_port, "cam", image)
            assert close_to(shown(page, width, height), rgb)
        # the page's own camera: a canvas published as JPEG five times a second
        page.click("#start")
        page.wait_for_function("Number(document.getElementById('frames').textContent) >= 3")
        shown(page, 320, 240)

    with trio.fail_after(20):
        async with site(serve, "mjpeg") as s:
            await in_browser(browser, scenario)
