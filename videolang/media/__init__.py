"""Media files, below every feature: what a file holds, its frames at chosen times, its audio.

- `probe`: open a file once (`probe` -> `MediaInfo`) and turn every way it can be broken into one
  clear reason (`describe_error`).
- `decode`: which frames to take (`FrameSampling`) and the decord / PyAV decoders that take them.
- `audio`: the first audio stream as 16 kHz mono float32 (`load_audio`).

`extract` (the feature extractors) and `commonsense` (region features) both start here.
Modules are imported explicitly; this package imports nothing heavy.
"""
