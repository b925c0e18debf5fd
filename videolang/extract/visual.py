"""Image embeddings of the sampled frames from any Hugging Face image encoder (CLIP by default).

Frames arrive already scaled and centre-cropped by the decoder; here they are only
normalised with the model's own processor statistics, batched, and run under
bf16/fp16 autocast on GPU. The default matches VidChapters: CLIP ViT-L/14
projected image embeddings, 768-d, float16, not L2-normalised.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from videolang.core.quiet import quiet_transformers
from videolang.extract.base import Extractor
from videolang.media.decode import FrameChunk


class HFImageEncoder(Extractor):
    """`model_class.from_pretrained(model)`; `output: image_features` calls `get_image_features` (CLIP, SigLIP:
    the projected embedding), any other value names a field of the forward output (e.g. `pooler_output`)."""

    input = "frames"
    #: set by the Encoder from the frame sampling (None for num_frames sampling)
    sampling_fps: float | None = None

    def __init__(self, model: str = "openai/clip-vit-large-patch14",
                 model_class: str = "transformers.AutoModel", output: str = "image_features",
                 normalize: bool = False, dtype: str = "float16", batch_size: int = 64, autocast: bool = True):
        super().__init__(model=model, model_class=model_class, output=output, normalize=normalize, dtype=dtype)
        self.batch_size = batch_size
        self.autocast = autocast
        self.net = None

    def load(self, device: torch.device) -> None:
        import hydra.utils
        from transformers import AutoImageProcessor

        super().load(device)
        if self.net is None:
            cls = hydra.utils.get_class(self.config["model_class"])
            with quiet_transformers():
                self.net = cls.from_pretrained(self.config["model"]).eval()
            proc = AutoImageProcessor.from_pretrained(self.config["model"])
            self.image_size = processor_image_size(proc)
            self.mean, self.std = (torch.tensor(v).view(1, 3, 1, 1) for v in (proc.image_mean, proc.image_std))
        self.net.to(device)
        self.mean, self.std = self.mean.to(device), self.std.to(device)

    @torch.inference_mode()
    def embed(self, frames: torch.Tensor | np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 -> (n, D) float32."""
        frames = torch.as_tensor(frames).to(self.device, non_blocking=True)
        x = frames.permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bicubic", antialias=True)
        x = (x - self.mean) / self.std
        with self.amp():
            if self.config["output"] == "image_features":
                out = self.net.get_image_features(pixel_values=x)
                emb = out if isinstance(out, torch.Tensor) else out.pooler_output  # transformers 4 / 5
            else:
                emb = getattr(self.net(pixel_values=x), self.config["output"])
        emb = emb.float()
        if self.config["normalize"]:
            emb = F.normalize(emb, dim=-1)
        return emb.cpu().numpy()

    def begin(self, item, info):
        return {"times": [], "emb": [], "duration": info.video_duration if info else None}

    def update(self, state, chunk: FrameChunk) -> None:
        for lo in range(0, len(chunk.times), self.batch_size):
            state["emb"].append(self.embed(chunk.frames[lo:lo + self.batch_size]))
        state["times"].append(np.asarray(chunk.times))

    def finish(self, state):
        times = np.concatenate(state["times"]) if state["times"] else np.zeros(0)
        dim = state["emb"][0].shape[1] if state["emb"] else 0
        array = np.concatenate(state["emb"]) if state["emb"] else np.zeros((0, dim), np.float32)
        return self.record(array.astype(self.config["dtype"]), times, self.sampling_fps,
                           meta={"duration": state["duration"]})


def processor_image_size(proc) -> int:
    """The square input size an image processor produces (crop size, else resize size), 224 if it says nothing."""
    for attr in ("crop_size", "size"):
        size = getattr(proc, attr, None)
        if isinstance(size, int):
            return size
        for field in ("height", "shortest_edge"):
            value = size.get(field) if hasattr(size, "get") else getattr(size, field, None)
            if value:
                return int(value)
    return 224
