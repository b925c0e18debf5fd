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

from videolang.extract.base import Extractor, autocast_dtype
from videolang.extract.decode import FrameChunk


class HFImageEncoder(Extractor):
    """`model_class.from_pretrained(model)`, output field `output` (e.g. `image_embeds`, `pooler_output`)."""

    input = "frames"

    def __init__(self, model: str = "openai/clip-vit-large-patch14",
                 model_class: str = "transformers.CLIPVisionModelWithProjection", output: str = "image_embeds",
                 normalize: bool = False, dtype: str = "float16", batch_size: int = 64, autocast: bool = True):
        super().__init__(model=model, model_class=model_class, output=output, normalize=normalize, dtype=dtype)
        self.batch_size = batch_size
        self.autocast = autocast
        self.net = None

    def load(self, device: torch.device) -> None:
        import hydra.utils
        from transformers import AutoImageProcessor

        super().load(device)
        if self.net is not None:
            self.net.to(device)
            return
        cls = hydra.utils.get_class(self.config["model_class"])
        self.net = cls.from_pretrained(self.config["model"]).eval().to(device)
        proc = AutoImageProcessor.from_pretrained(self.config["model"])
        size = getattr(proc, "crop_size", None) or getattr(proc, "size", None) or {}
        self.image_size = int(size.get("height") or size.get("shortest_edge") or 224) if isinstance(size, dict) else int(size)
        self.mean = torch.tensor(proc.image_mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(proc.image_std, device=device).view(1, 3, 1, 1)

    @torch.inference_mode()
    def embed(self, frames: torch.Tensor | np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 -> (n, D) float32."""
        frames = torch.as_tensor(frames).to(self.device, non_blocking=True)
        x = frames.permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bicubic", antialias=True)
        x = (x - self.mean) / self.std
        use_amp = self.autocast and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=autocast_dtype(self.device), enabled=use_amp):
            out = self.net(pixel_values=x)
        emb = getattr(out, self.config["output"]) if hasattr(out, self.config["output"]) else out[0]
        emb = emb.float()
        if self.config["normalize"]:
            emb = F.normalize(emb, dim=-1)
        return emb.cpu().numpy()

    def begin(self, item, info):
        return {"times": [], "emb": []}

    def update(self, state, chunk: FrameChunk) -> None:
        for lo in range(0, len(chunk.times), self.batch_size):
            state["emb"].append(self.embed(chunk.frames[lo:lo + self.batch_size]))
        state["times"].append(np.asarray(chunk.times))

    def finish(self, state):
        times = np.concatenate(state["times"]) if state["times"] else np.zeros(0)
        dim = state["emb"][0].shape[1] if state["emb"] else 0
        array = np.concatenate(state["emb"]) if state["emb"] else np.zeros((0, dim), np.float32)
        fps = self.sampling_fps
        return self.record(array.astype(self.config["dtype"]), times, fps)

    #: set by the Encoder from the frame sampling (None for num_frames sampling)
    sampling_fps: float | None = None
