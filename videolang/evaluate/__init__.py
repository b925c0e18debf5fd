"""Community metrics, number for number: densevid_eval + SODA_c, COCO captions, Moment-DETR grounding, VideoQA.

Plain functions for model selection (no Hydra, no stage needed):

    from videolang.evaluate import evaluate_dense_captioning, Meteor
    with Meteor() as meteor:                      # optional: reuse one JVM across calls
        m = evaluate_dense_captioning(preds, refs, meteor=meteor)
    m["cider"], m["soda_c"], m["meteor"]

See docs/evaluate.md for every definition and what `compat=True` reproduces.
"""
from videolang.evaluate.evaluators import (ChapterCaptioningEvaluator, ChapterGenerationEvaluator,
                                           DenseCaptioningEvaluator, EvaluationResult, GroundingEvaluator,
                                           VideoQAEvaluator, evaluate_captions, evaluate_dense_captioning,
                                           evaluate_grounding, evaluate_videoqa, soda_c)
from videolang.evaluate.inputs import InputReport, Segments
from videolang.evaluate.meteor import Meteor
from videolang.evaluate.ptb import ptb_tokenize

__all__ = ["ChapterCaptioningEvaluator", "ChapterGenerationEvaluator", "DenseCaptioningEvaluator",
           "EvaluationResult", "GroundingEvaluator", "InputReport", "Meteor", "Segments", "VideoQAEvaluator",
           "evaluate_captions", "evaluate_dense_captioning", "evaluate_grounding", "evaluate_videoqa",
           "ptb_tokenize", "soda_c"]
