"""VidChapters' grounding baselines: the zero-shot CLIP window rule and random windows."""
from __future__ import annotations

import numpy as np

from videolang.model.grounding_baselines import clip_zero_shot_window, random_windows, row_normalised_similarity


def test_zero_shot_window_grows_right_while_close_to_the_best_frame():
    frames = np.array([[0.0, 1.0], [1.0, 0.1], [0.99, 0.12], [0.97, 0.3], [0.0, 1.0]])
    text = np.array([1.0, 0.0])
    sim = row_normalised_similarity(text, frames)
    assert np.isclose(np.linalg.norm(sim), 1.0)
    times = np.arange(5.0)
    # best frame 1; frames 2 and 3 are within 0.05 of it, frame 4 is 0
    assert clip_zero_shot_window(text, frames, times, 5.0)[0][:2] == [1.0, 4.0]
    assert clip_zero_shot_window(text, frames[:4], times[:4], 4.5)[0][:2] == [1.0, 4.5]  # runs off the end
    assert clip_zero_shot_window(text, frames, times, 5.0, delta=0.0)[0][:2] == [1.0, 2.0]


def test_random_windows_are_inside_the_video_and_ranked():
    rng = np.random.default_rng(0)
    windows = random_windows(30.0, rng, k=5)
    assert len(windows) == 5 and all(0 <= s < e <= 30 for s, e, _ in windows)
    assert [w[2] for w in windows] == sorted((w[2] for w in windows), reverse=True)
