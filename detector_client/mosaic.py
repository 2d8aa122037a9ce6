"""Mosaic geometry of the detector protocol: tiling frames, splitting detections back.

A watcher tiles ``rows x cols`` frames into one image so that one HTTP request and one
detector batch serve several frames. Everything here is pure and array-based, so the
client and the service share one definition of where a tile starts and ends.

Conventions:
    * a grid is ``(rows, cols)``; tile ``i`` sits at row ``i // cols``, column ``i % cols``
      (row-major, the order of the frames given to :func:`tile_frames`);
    * a detection array is ``N x 6``: ``x_min, y_min, x_max, y_max, score, class_id`` with
      coordinates relative (0..1) to the image they are expressed in.

Examples:
    >>> import numpy as np
    >>> mosaic = tile_frames([np.zeros((2, 3, 3), np.uint8)], (1, 2))
    >>> mosaic.shape
    (2, 6, 3)
    >>> dets = np.array([[0.75, 0.0, 1.0, 1.0, 0.8, 0.0]])
    >>> split_detections_rel(dets, (1, 2), n_tiles=2)[1][0, :4].tolist()
    [0.5, 0.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DETECTION_COLUMNS = 6
"""x_min, y_min, x_max, y_max, score, class_id."""


def validate_grid(grid_rc: tuple[int, int], max_side: int = 16) -> tuple[int, int]:
    """Return ``(rows, cols)`` as ints, or raise ValueError naming what is wrong."""
    if len(grid_rc) != 2:
        raise ValueError(f"grid must be (rows, cols), got {grid_rc!r}")
    rows, cols = (int(v) for v in grid_rc)
    if not (1 <= rows <= max_side and 1 <= cols <= max_side):
        raise ValueError(f"grid sides must be within 1..{max_side}, got {rows}x{cols}")
    return rows, cols


def _check_frames(frames: Sequence[np.ndarray], n_tiles: int) -> tuple[int, int]:
    """Check that the batch fits the grid and holds same-sized BGR uint8 frames."""
    if not frames:
        raise ValueError("no frames to tile")
    if len(frames) > n_tiles:
        raise ValueError(f"{len(frames)} frames do not fit a grid of {n_tiles} tiles")
    first = frames[0]
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"frame {i}: expected an HxWx3 uint8 BGR array, got shape {frame.shape} {frame.dtype}"
            )
        if frame.shape != first.shape:
            raise ValueError(
                f"frames of one mosaic must share one size: frame 0 is {first.shape[1]}x{first.shape[0]},"
                f" frame {i} is {frame.shape[1]}x{frame.shape[0]} (width x height)"
            )
    return first.shape[0], first.shape[1]


def tile_frames(frames: Sequence[np.ndarray], grid_rc: tuple[int, int]) -> np.ndarray:
    """Tile up to ``rows * cols`` same-sized frames into one mosaic, row-major.

    Missing tiles of a partial batch are black: a black tile costs little to encode
    and holds nothing a detector could find.

    Raises:
        ValueError: empty batch, too many frames, frames of different sizes or types.
    """
    rows, cols = validate_grid(grid_rc)
    height_px, width_px = _check_frames(frames, rows * cols)
    mosaic = np.zeros((rows * height_px, cols * width_px, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        row, col = divmod(i, cols)
        mosaic[row * height_px : (row + 1) * height_px, col * width_px : (col + 1) * width_px] = frame
    return mosaic


def split_mosaic(image: np.ndarray, grid_rc: tuple[int, int]) -> list[np.ndarray]:
    """Cut a mosaic into its tiles (views, row-major).

    Raises:
        ValueError: the image size is not a multiple of the grid.
    """
    rows, cols = validate_grid(grid_rc)
    height_px, width_px = image.shape[:2]
    if height_px % rows or width_px % cols:
        raise ValueError(
            f"a {width_px}x{height_px} image cannot be cut into a {rows}x{cols} grid of equal tiles"
        )
    tile_h, tile_w = height_px // rows, width_px // cols
    return [
        image[r * tile_h : (r + 1) * tile_h, c * tile_w : (c + 1) * tile_w]
        for r in range(rows)
        for c in range(cols)
    ]


def tile_to_mosaic_rel(dets_tile_rel: np.ndarray, grid_rc: tuple[int, int], tile_index: int) -> np.ndarray:
    """Express detections relative to one tile in coordinates relative to the whole mosaic."""
    rows, cols = validate_grid(grid_rc)
    row, col = divmod(tile_index, cols)
    out = np.array(dets_tile_rel, dtype=np.float64).reshape(-1, DETECTION_COLUMNS)
    out[:, [0, 2]] = (out[:, [0, 2]] + col) / cols
    out[:, [1, 3]] = (out[:, [1, 3]] + row) / rows
    return out


def tile_index_of_centres(dets_rel: np.ndarray, grid_rc: tuple[int, int]) -> np.ndarray:
    """Index of the tile that holds each box's centre (a centre on an edge goes to the later tile)."""
    rows, cols = validate_grid(grid_rc)
    centre_x = (dets_rel[:, 0] + dets_rel[:, 2]) / 2
    centre_y = (dets_rel[:, 1] + dets_rel[:, 3]) / 2
    col = np.clip(np.floor(centre_x * cols), 0, cols - 1).astype(int)
    row = np.clip(np.floor(centre_y * rows), 0, rows - 1).astype(int)
    return row * cols + col


def split_detections_rel(dets_rel: np.ndarray, grid_rc: tuple[int, int], n_tiles: int) -> list[np.ndarray]:
    """Give each of the first ``n_tiles`` tiles its detections, relative to that tile.

    A box belongs to the tile that holds its centre and is clipped to that tile, so a
    box that a detector drew across a tile border never leaks into a neighbour frame.
    Detections in the padding tiles (index >= n_tiles) are dropped.
    """
    rows, cols = validate_grid(grid_rc)
    dets = np.asarray(dets_rel, dtype=np.float64).reshape(-1, DETECTION_COLUMNS)
    owner = tile_index_of_centres(dets, (rows, cols))
    per_tile = []
    for index in range(n_tiles):
        row, col = divmod(index, cols)
        mine = dets[owner == index].copy()
        mine[:, [0, 2]] = np.clip(mine[:, [0, 2]] * cols - col, 0.0, 1.0)
        mine[:, [1, 3]] = np.clip(mine[:, [1, 3]] * rows - row, 0.0, 1.0)
        per_tile.append(mine)
    return per_tile


def clip_boxes_rel(dets_rel: np.ndarray) -> np.ndarray:
    """Clip the box columns of an ``N x 6`` array to 0..1 (a copy)."""
    out = np.array(dets_rel, dtype=np.float64).reshape(-1, DETECTION_COLUMNS)
    out[:, :4] = np.clip(out[:, :4], 0.0, 1.0)
    return out
