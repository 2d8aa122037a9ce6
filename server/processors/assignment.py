"""Minimum-cost assignment (the Hungarian method), numpy only.

The tracker matches a handful of tracks to a handful of detections per frame;
scipy's ``linear_sum_assignment`` would do the same but is not a dependency of
the project, and at these sizes (tens) an O(n^2 m) loop over numpy rows is fast.
"""

from __future__ import annotations

import numpy as np


def linear_assignment(cost: np.ndarray) -> list[tuple[int, int]]:
    """Pairs ``(row, col)`` that match every row (or every column, if fewer) at minimum total cost.

    Shortest augmenting paths with potentials (Kuhn-Munkres as in Jonker-Volgenant);
    ``cost`` must be finite: mark forbidden pairs with a large value and filter them after.

    Examples:
        >>> linear_assignment(np.array([[4.0, 1.0], [2.0, 3.0]]))
        [(0, 1), (1, 0)]
    """
    matrix = np.asarray(cost, dtype=np.float64)
    if matrix.size == 0:
        return []
    if not np.isfinite(matrix).all():
        raise ValueError("linear_assignment: cost must be finite; use a large value for forbidden pairs")
    transposed = matrix.shape[0] > matrix.shape[1]
    if transposed:
        matrix = matrix.T
    owner = _solve(matrix)
    pairs = [(int(owner[col]) - 1, col - 1) for col in range(1, matrix.shape[1] + 1) if owner[col]]
    if transposed:
        pairs = [(col, row) for row, col in pairs]
    return sorted(pairs)


def _solve(matrix: np.ndarray) -> np.ndarray:
    """``owner[col]`` = 1-based row matched to 1-based ``col`` (0: none), for rows <= cols."""
    rows, cols = matrix.shape
    u = np.zeros(rows + 1)
    v = np.zeros(cols + 1)
    owner = np.zeros(cols + 1, dtype=np.int64)
    way = np.zeros(cols + 1, dtype=np.int64)
    for row in range(1, rows + 1):
        owner[0] = row
        col0 = 0
        min_reduced = np.full(cols + 1, np.inf)
        used = np.zeros(cols + 1, dtype=bool)
        while owner[col0] != 0:
            used[col0] = True
            row0 = owner[col0]
            reduced = matrix[row0 - 1] - u[row0] - v[1:]
            better = ~used[1:] & (reduced < min_reduced[1:])
            min_reduced[1:][better] = reduced[better]
            way[1:][better] = col0
            candidates = np.where(used[1:], np.inf, min_reduced[1:])
            col1 = int(np.argmin(candidates)) + 1
            delta = candidates[col1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            min_reduced[~used] -= delta
            col0 = col1
        while col0:
            prev = way[col0]
            owner[col0] = owner[prev]
            col0 = prev
    return owner
