"""Raw video in, chapters, grounded windows or answers out, through the extraction stage's own code path.

    from videolang.predict import ChapterPredictor
    predictor = ChapterPredictor.from_checkpoint("best.ckpt")
    prediction = predictor.predict_video("talk.mp4")
    prediction.chapters   # [{"start": 0.0, "end": 41.0, "title": "Intro"}, ...]
"""
from videolang.predict.chapters import ChapterPrediction, ChapterPredictor, VideoPredictor, events_to_chapters
from videolang.predict.grounding import GroundingPrediction, GroundingPredictor
from videolang.predict.videoqa import VideoQAPrediction, VideoQAPredictor
from videolang.predict.formats import webvtt_chapters, write_chapter_files, youtube_lines

__all__ = ["ChapterPrediction", "ChapterPredictor", "GroundingPrediction", "GroundingPredictor", "VideoPredictor",
           "VideoQAPrediction", "VideoQAPredictor",
           "events_to_chapters", "webvtt_chapters",
           "write_chapter_files", "youtube_lines"]
