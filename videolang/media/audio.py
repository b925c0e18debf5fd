"""Audio loading: the first audio stream as 16 kHz mono float32, the input every audio model here takes.

torchaudio is tried first (it needs its torchcodec backend); PyAV reads every
container ffmpeg can (and is what runs when torchcodec is not installed). The
whole track is held (16 kHz float32 is 230 MB per hour), since Whisper wants it.
"""
from __future__ import annotations

import numpy as np

from videolang.core.errors import BadInputError
from videolang.media.probe import MediaInfo, describe_error

SAMPLE_RATE = 16_000


def load_audio(info: MediaInfo, sample_rate: int = SAMPLE_RATE, backend: str = "auto",
               truncation_tolerance_s: float = 2.0) -> np.ndarray:
    """(n,) float32 in [-1, 1] at `sample_rate`; BadInputError when there is no usable audio."""
    if not info.has_audio:
        raise BadInputError("no audio stream", info.path)
    audio = None
    if backend in ("auto", "torchaudio"):
        audio = _load_torchaudio(info.path, sample_rate, required=backend == "torchaudio")
    if audio is None:
        audio = _load_pyav(info.path, sample_rate)
    if audio.size == 0:
        raise BadInputError("audio stream has no decodable samples (corrupt or truncated file)", info.path)
    if info.audio_duration and info.audio_duration - audio.size / sample_rate > truncation_tolerance_s:
        raise BadInputError(f"truncated audio: samples stop at {audio.size / sample_rate:.1f} s "
                            f"of {info.audio_duration:.1f} s", info.path)
    return audio


def _load_torchaudio(path: str, sample_rate: int, required: bool) -> np.ndarray | None:
    try:
        import torchaudio

        wave, sr = torchaudio.load(path)
    except Exception as e:  # noqa: BLE001 - missing torchcodec or an unreadable container: fall back to PyAV
        if required:
            raise BadInputError(f"torchaudio cannot read the audio: {describe_error(e)}", path) from None
        return None
    wave = wave.mean(0)
    if sr != sample_rate:
        wave = torchaudio.functional.resample(wave, sr, sample_rate)
    return wave.numpy().astype(np.float32, copy=False)


def _load_pyav(path: str, sample_rate: int) -> np.ndarray:
    import av

    pieces: list[np.ndarray] = []
    try:
        with av.open(path) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
    except Exception as e:  # noqa: BLE001
        if not pieces:
            raise BadInputError(f"cannot decode audio: {describe_error(e)}", path) from None
        # a decoding error after some audio: keep what decoded, the length check judges truncation
    return np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)
