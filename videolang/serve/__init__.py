"""The local web viewer (`stage=serve`): a video with its predicted and true chapters, moments for a text
query, answers to a question, and a predictions file browsed video by video (docs/serve.md).

    from videolang.serve import Viewer, VideoLibrary, ViewerModels, create_app
    viewer = Viewer(VideoLibrary("datasets/built/sample", ["datasets/sample/videos"]),
                    ViewerModels({"chapters": "best.ckpt"}))
    viewer.start()
    app = create_app(viewer)          # any ASGI server: uvicorn.run(app, host="127.0.0.1", port=8765)
"""
from videolang.serve.app import Viewer, create_app
from videolang.serve.browse import BrowseTable, browse_table
from videolang.serve.library import VideoEntry, VideoLibrary
from videolang.serve.models import ViewerModels

__all__ = ["BrowseTable", "VideoEntry", "VideoLibrary", "Viewer", "ViewerModels", "browse_table", "create_app"]
