"""Mosaic geometry: tiling, cutting, mapping detections between tile and mosaic coordinates."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from detector_client.mosaic import (
    clip_boxes_rel,
    split_detections_rel,
    split_mosaic,
    tile_frames,
    tile_index_of_centres,
    tile_to_mosaic_rel,
    validate_grid,
)


def frame(value: int, height_px: int = 4, width_px: int = 6) -> np.ndarray:
    return np.full((height_px, width_px, 3), value, dtype=np.uint8)


@pytest.mark.parametrize(
    ("frames", "grid", "shape", "tile_values", "expectation"),
    [
        ([frame(1)], (1, 1), (4, 6, 3), [1], does_not_raise()),
        ([frame(1), frame(2)], (1, 2), (4, 12, 3), [1, 2], does_not_raise()),
        ([frame(1), frame(2), frame(3)], (2, 2), (8, 12, 3), [1, 2, 3, 0], does_not_raise()),
        ([frame(1)], (3, 3), (12, 18, 3), [1, 0, 0, 0, 0, 0, 0, 0, 0], does_not_raise()),
        ([frame(1), frame(2, 5, 6)], (1, 2), None, None, pytest.raises(ValueError, match="share one size")),
        ([frame(1)] * 3, (1, 2), None, None, pytest.raises(ValueError, match="do not fit")),
        ([], (1, 1), None, None, pytest.raises(ValueError, match="no frames")),
        ([np.zeros((4, 6), np.uint8)], (1, 1), None, None, pytest.raises(ValueError, match="HxWx3 uint8")),
        ([frame(1)], (0, 2), None, None, pytest.raises(ValueError, match="grid sides")),
    ],
)
def test_tile_frames(frames, grid, shape, tile_values, expectation) -> None:
    with expectation:
        mosaic = tile_frames(frames, grid)
        assert mosaic.shape == shape
        assert [int(tile.mean()) for tile in split_mosaic(mosaic, grid)] == tile_values


@pytest.mark.parametrize(
    ("image_hw", "grid", "tiles", "tile_hw", "expectation"),
    [
        ((8, 12), (2, 2), 4, (4, 6), does_not_raise()),
        ((8, 12), (1, 3), 3, (8, 4), does_not_raise()),
        ((9, 12), (2, 2), None, None, pytest.raises(ValueError, match="equal tiles")),
        ((8, 12), (1, 5), None, None, pytest.raises(ValueError, match="equal tiles")),
    ],
)
def test_split_mosaic(image_hw, grid, tiles, tile_hw, expectation) -> None:
    with expectation:
        parts = split_mosaic(np.zeros((*image_hw, 3), np.uint8), grid)
        assert len(parts) == tiles
        assert {part.shape[:2] for part in parts} == {tile_hw}


@pytest.mark.parametrize(
    ("box", "grid", "tile"),
    [
        ((0.1, 0.1, 0.2, 0.2), (2, 2), 0),
        ((0.6, 0.1, 0.9, 0.3), (2, 2), 1),
        ((0.1, 0.6, 0.3, 0.9), (2, 2), 2),
        ((0.4, 0.4, 0.9, 0.9), (2, 2), 3),  # centre (0.65, 0.65): crosses the border, belongs to tile 3
        ((0.5, 0.0, 0.5, 0.2), (1, 2), 1),  # centre on the border: the later tile
        ((0.0, 0.0, 1.0, 1.0), (3, 3), 4),
        ((0.95, 0.95, 1.0, 1.0), (3, 3), 8),
    ],
)
def test_tile_index_of_centres(box, grid, tile) -> None:
    dets = np.array([[*box, 0.9, 0]])
    assert tile_index_of_centres(dets, grid).tolist() == [tile]


@pytest.mark.parametrize(
    ("box_rel", "grid", "n_tiles", "owner", "expected_box"),
    [
        ((0.25, 0.25, 0.5, 0.5), (2, 2), 4, 0, (0.5, 0.5, 1.0, 1.0)),
        ((0.75, 0.0, 1.0, 0.5), (2, 2), 4, 1, (0.5, 0.0, 1.0, 1.0)),
        ((0.4, 0.6, 0.7, 0.8), (2, 2), 4, 1 * 2 + 1, (0.0, 0.2, 0.4, 0.6)),  # clipped at the left border
        ((0.1, 0.1, 0.3, 0.3), (1, 2), 2, 0, (0.2, 0.1, 0.6, 0.3)),
        ((0.6, 0.6, 0.9, 0.9), (2, 2), 3, None, None),  # in the black padding tile: dropped
    ],
)
def test_split_detections_rel(box_rel, grid, n_tiles, owner, expected_box) -> None:
    per_tile = split_detections_rel(np.array([[*box_rel, 0.7, 2]]), grid, n_tiles)
    assert len(per_tile) == n_tiles
    counts = [len(tile) for tile in per_tile]
    if owner is None:
        assert counts == [0] * n_tiles
        return
    assert counts == [int(i == owner) for i in range(n_tiles)]
    np.testing.assert_allclose(per_tile[owner][0, :4], expected_box, atol=1e-9)
    assert per_tile[owner][0, 4:].tolist() == [0.7, 2]


@pytest.mark.parametrize(
    ("grid", "tile_index", "box_tile", "box_mosaic"),
    [
        ((1, 1), 0, (0.1, 0.2, 0.3, 0.4), (0.1, 0.2, 0.3, 0.4)),
        ((1, 2), 1, (0.0, 0.0, 1.0, 1.0), (0.5, 0.0, 1.0, 1.0)),
        ((2, 2), 3, (0.5, 0.5, 1.0, 1.0), (0.75, 0.75, 1.0, 1.0)),
        ((3, 3), 5, (0.0, 0.0, 0.3, 0.6), (2 / 3, 1 / 3, 2 / 3 + 0.1, 1 / 3 + 0.2)),
    ],
)
def test_tile_to_mosaic_and_back(grid, tile_index, box_tile, box_mosaic) -> None:
    mosaic_dets = tile_to_mosaic_rel(np.array([[*box_tile, 0.5, 0]]), grid, tile_index)
    np.testing.assert_allclose(mosaic_dets[0, :4], box_mosaic, atol=1e-9)
    back = split_detections_rel(mosaic_dets, grid, grid[0] * grid[1])[tile_index]
    np.testing.assert_allclose(back[0, :4], box_tile, atol=1e-9)


def test_empty_detections_split_into_empty_tiles() -> None:
    per_tile = split_detections_rel(np.zeros((0, 6)), (2, 2), 4)
    assert [tile.shape for tile in per_tile] == [(0, 6)] * 4


def test_clip_boxes_rel_keeps_score_and_class() -> None:
    clipped = clip_boxes_rel(np.array([[-0.1, 0.2, 1.2, 0.9, 0.4, 3]]))
    assert clipped.tolist() == [[0.0, 0.2, 1.0, 0.9, 0.4, 3.0]]


@pytest.mark.parametrize("grid", [(1, 2, 3), (17, 1)])
def test_validate_grid_refuses(grid) -> None:
    with pytest.raises(ValueError, match="grid"):
        validate_grid(grid)
