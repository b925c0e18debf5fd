"""Moment-DETR (Lei et al. 2021), the second grounding model: a DETR over projected clip features and query
tokens with learned moment queries, Hungarian-matched span / foreground losses and a clip saliency head.

- `spans`: (start, end) <-> (center, width), temporal IoU and generalised IoU on tensors.
- `network`: `MomentDETRNet` (input projections, sine positions, the DETR transformer, span / class /
  saliency heads).
- `criterion`: targets, the Hungarian matcher, the set criterion and the saliency margin loss.
- `text`: the frozen text encoder whose token features are the query side.
- `module`: `MomentDETRModule`, the LightningModule (`model=moment_detr`).
"""
