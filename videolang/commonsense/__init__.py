"""The iPerceive / VC R-CNN common-sense module: object regions per frame and what is built on them.

`videolang.commonsense.regions` holds the shared region concepts (`FrameRegions`, box formats,
the source-to-frame transform, cleaning, filtering, the packed store format and given-box files).
Modules are imported explicitly; this package imports nothing heavy.
"""
