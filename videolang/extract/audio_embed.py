"""Audio features on a regular time grid (one row per `hop_s`, default 1 s).

`ASTAudioEncoder`: the Audio Spectrogram Transformer (default
`MIT/ast-finetuned-audioset-10-10-0.4593`: AudioSet-trained, so it covers speech,
music and ambient sound alike; plain `transformers`, 16 kHz input). The audio is
cut into whole windows the model takes at once (10 s for the real model); each
window's patch tokens are averaged over frequency and then over the patch
columns whose centres fall in each 1 s cell, so one forward pass gives ten
1-second embeddings instead of ten padded passes.

`LogMelStats`: mean and standard deviation of log-mel energies per cell, for
models that want plain acoustics.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from videolang.core.quiet import quiet_transformers
from videolang.extract.base import Extractor
from videolang.media.audio import SAMPLE_RATE

_FBANK_SHIFT, _FBANK_WIN = 0.010, 0.025  # seconds: kaldi fbank as the AST feature extractor computes it


def grid_record(ext: Extractor, array: np.ndarray):
    """Row t covers [t * hop_s, (t + 1) * hop_s): timestamps are the cell starts."""
    hop = ext.config["hop_s"]
    return ext.record(array, np.arange(len(array)) * hop, 1.0 / hop, meta={"cell_seconds": hop})


def grid_cells(num_samples: int, hop_s: float) -> int:
    """Cells of `hop_s` covering the audio; a last partial cell counts when it holds at least 0.1 s."""
    return max(1, math.ceil(num_samples / SAMPLE_RATE / hop_s - 0.1 / hop_s))


class ASTAudioEncoder(Extractor):
    input = "audio"

    def __init__(self, model: str = "MIT/ast-finetuned-audioset-10-10-0.4593", hop_s: float = 1.0,
                 dtype: str = "float16", batch_size: int = 8, autocast: bool = True):
        super().__init__(model=model, hop_s=hop_s, dtype=dtype)
        self.batch_size = batch_size
        self.autocast = autocast
        self.net = None

    def load(self, device: torch.device) -> None:
        from transformers import ASTFeatureExtractor, ASTModel

        super().load(device)
        if self.net is None:
            with quiet_transformers():
                self.net = ASTModel.from_pretrained(self.config["model"]).eval()
            self.features = ASTFeatureExtractor.from_pretrained(self.config["model"])
        self.net.to(device)
        c = self.net.config
        hop = self.config["hop_s"]
        frames = c.max_length
        # whole cells that fit in the model's input (10 s for 1024 frames); at least one cell
        self.cells_per_window = max(1, int(((frames - 1) * _FBANK_SHIFT + _FBANK_WIN) // hop))
        t_dim = (frames - c.patch_size) // c.time_stride + 1
        self.f_dim = (c.num_mel_bins - c.patch_size) // c.frequency_stride + 1
        centres = (np.arange(t_dim) * c.time_stride + c.patch_size / 2) * _FBANK_SHIFT + _FBANK_WIN / 2
        cell = np.floor(centres / hop).astype(int)
        # one-hot (t_dim, cells) averaging matrix; a cell no column centre falls in takes its nearest column
        pool = np.zeros((t_dim, self.cells_per_window), np.float32)
        for k in range(self.cells_per_window):
            cols = np.flatnonzero(cell == k)
            if cols.size == 0:
                cols = [int(np.argmin(np.abs(centres - (k + 0.5) * hop)))]
            pool[cols, k] = 1.0 / len(cols)
        self.pool = torch.from_numpy(pool).to(device)

    @torch.inference_mode()
    def _embed_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        inputs = self.features(windows, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        x = inputs["input_values"].to(self.device)
        with self.amp():
            hidden = self.net(input_values=x).last_hidden_state
        patches = hidden[:, -self.f_dim * self.pool.shape[0]:].float()
        patches = patches.reshape(len(windows), self.f_dim, self.pool.shape[0], -1).mean(1)  # (B, t_dim, D)
        cells = torch.einsum("btd,tk->bkd", patches, self.pool)                             # (B, cells, D)
        return cells.reshape(-1, cells.shape[-1]).cpu().numpy()

    def update(self, state, audio: np.ndarray) -> None:
        hop = self.config["hop_s"]
        n_cells = grid_cells(len(audio), hop)
        win = int(round(self.cells_per_window * hop * SAMPLE_RATE))
        n_windows = math.ceil(n_cells / self.cells_per_window)
        padded = np.zeros(n_windows * win, np.float32)
        audio = audio[: n_cells * int(round(hop * SAMPLE_RATE))]  # a sliver past the last cell is dropped
        padded[:len(audio)] = audio
        windows = [padded[i * win:(i + 1) * win] for i in range(n_windows)]
        out = [self._embed_windows(windows[i:i + self.batch_size]) for i in range(0, n_windows, self.batch_size)]
        state.append(np.concatenate(out)[:n_cells])

    def finish(self, state):
        array = np.concatenate(state) if state else np.zeros((0, self.net.config.hidden_size), np.float32)
        return grid_record(self, array.astype(self.config["dtype"]))


class LogMelStats(Extractor):
    """(T, 2 * n_mels) float32: per cell, the mean then the std of log-mel energies (25 ms window, 10 ms hop)."""

    input = "audio"

    def __init__(self, n_mels: int = 64, hop_s: float = 1.0):
        super().__init__(model=f"log-mel-{n_mels}", n_mels=n_mels, hop_s=hop_s)

    def load(self, device: torch.device) -> None:
        import torchaudio

        super().load(device)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=int(_FBANK_WIN * SAMPLE_RATE), hop_length=int(_FBANK_SHIFT * SAMPLE_RATE),
            n_mels=self.config["n_mels"]).to(device)

    @torch.inference_mode()
    def update(self, state, audio: np.ndarray) -> None:
        hop = self.config["hop_s"]
        n_cells = grid_cells(len(audio), hop)
        spec = self.mel(torch.from_numpy(audio).to(self.device)).clamp_min(1e-10).log()  # (n_mels, frames)
        per_cell = int(round(hop / _FBANK_SHIFT))
        spec = spec[:, : n_cells * per_cell]
        pad = n_cells * per_cell - spec.shape[1]
        cells = torch.nn.functional.pad(spec, (0, pad), value=float("nan")).reshape(spec.shape[0], n_cells, per_cell)
        stats = torch.cat([cells.nanmean(-1), _nanstd(cells)], 0).T  # (cells, 2 * n_mels)
        state.append(torch.nan_to_num(stats).cpu().numpy())

    def finish(self, state):
        array = np.concatenate(state) if state else np.zeros((0, 2 * self.config["n_mels"]), np.float32)
        return grid_record(self, array.astype(np.float32))


def _nanstd(x: torch.Tensor) -> torch.Tensor:
    mean = x.nanmean(-1, keepdim=True)
    return ((x - mean) ** 2).nanmean(-1).sqrt()
