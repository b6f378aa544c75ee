"""Frame sheets: a whole clip at a glance, for review (``python -m ext.manim_clip sheets``).

Not part of rendering, so not part of any clip's cache key.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .media import frames_of, probe


def frame_sheet(source: Path, target: Path, *, count: int = 6, columns: int = 3) -> None:
    """``count`` frames spread evenly over a clip (the middle of each of ``count`` equal
    parts: not the blank first frame), on one small image with their times: to look at
    a whole clip at once (docs/screenshots/clips)."""
    info = probe(source)
    wanted = [int((i + 0.5) * info.frames / count) for i in range(count)]
    tile_width = 400
    tile_height = round(info.height * tile_width / info.width)
    label_height = 22
    rows = -(-count // columns)
    sheet = Image.new("RGB", (columns * tile_width, rows * (tile_height + label_height)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for index, (time, frame) in enumerate(frames_of(source)):
        if index not in wanted:
            continue
        slot = wanted.index(index)
        x, y = (slot % columns) * tile_width, (slot // columns) * (tile_height + label_height)
        tile = frame.to_image().resize((tile_width, tile_height), Image.Resampling.LANCZOS)
        sheet.paste(tile, (x, y + label_height))
        draw.text((x + 4, y + 3), f"{time:.1f} s", font=font, fill="black")
    sheet.save(target, quality=70, method=6)
