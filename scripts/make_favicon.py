"""Draw the site's icon: a Northvale-blue tile with a white chat bubble (Service First's chat), in two files from
one design: static/favicon.svg (vector, for browsers that take it) and static/favicon.ico (16, 32 and 48 px, for
`/favicon.ico`, which browsers and bookmark tools ask for by default). Run it after changing the design:

    /work/main/.venv/bin/python scripts/make_favicon.py

Pillow draws the bitmap (it is installed in the app env with matplotlib); nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parent.parent / "civicdesk" / "console" / "static"
BAND, WHITE = "#0b3d5c", "#ffffff"  # the widget's and the site's header colour (widget.css --nvc-band)

# The design on a 32-unit grid: tile, bubble, its tail, three dots.
TILE_RADIUS = 6
BUBBLE = (5, 7, 27, 22)  # left, top, right, bottom
BUBBLE_RADIUS = 5
TAIL = ((9, 20), (9, 27), (16, 21))
DOTS = ((11, 14.5), (16, 14.5), (21, 14.5))
DOT_RADIUS = 1.9


def svg() -> str:
    left, top, right, bottom = BUBBLE
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="{DOT_RADIUS}" fill="{BAND}"/>' for x, y in DOTS)
    tail = " ".join(f"{x},{y}" for x, y in TAIL)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" width="32" height="32">'
        f'<rect width="32" height="32" rx="{TILE_RADIUS}" fill="{BAND}"/>'
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" rx="{BUBBLE_RADIUS}" '
        f'fill="{WHITE}"/><polygon points="{tail}" fill="{WHITE}"/>{dots}</svg>\n'
    )


def bitmap(scale: int = 16) -> Image.Image:
    """The design drawn large (512 px); the icon's sizes are scaled down from it, smoothly."""
    image = Image.new("RGBA", (32 * scale, 32 * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 32 * scale - 1, 32 * scale - 1), TILE_RADIUS * scale, fill=BAND)
    draw.rounded_rectangle(tuple(v * scale for v in BUBBLE), BUBBLE_RADIUS * scale, fill=WHITE)
    draw.polygon([(x * scale, y * scale) for x, y in TAIL], fill=WHITE)
    for x, y in DOTS:
        r = DOT_RADIUS * scale
        draw.ellipse((x * scale - r, y * scale - r, x * scale + r, y * scale + r), fill=BAND)
    return image


def main() -> None:
    (STATIC / "favicon.svg").write_text(svg())
    bitmap().save(STATIC / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


if __name__ == "__main__":
    main()
