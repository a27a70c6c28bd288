"""One small function per operation type, registered by the operation's model; each works on one frame.

The families: `geometry` (resize, crop, rotate, flip, pad, trim), `focus` (blur, sharpen), `colour`
(adjust, filter, tint, auto_enhance) and `overlay` (text, watermark, flatten); `_base` holds the
registry and what the steps share (pixel values, colours, alpha, placing one image over another).
"""

from __future__ import annotations

from imagejobs.engine.operations import colour, focus, geometry, overlay  # noqa: F401 - importing registers the steps
from imagejobs.engine.operations._base import STEPS, Context, apply
from imagejobs.engine.operations.geometry import resize_from, resize_geometry

__all__ = ["STEPS", "Context", "apply", "resize_from", "resize_geometry"]
