"""videolang: multimodal video understanding, from raw video to chapters, captions and answers."""

__version__ = "0.1.0"
