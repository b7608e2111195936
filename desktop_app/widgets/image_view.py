"""An image viewer: fits the image to the widget; mouse wheel zooms, dragging pans. Views
linked with `link_views` zoom and pan together (e.g. a photo beside its ELA image)."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from PIL import Image, ImageTk


class ImageView(tk.Canvas):
    def __init__(
        self,
        parent,
        width: int = 200,
        height: int = 200,
        pixelated: bool = False,
        caption: str = "",
        **options,
    ):
        super().__init__(
            parent, width=width, height=height, highlightthickness=0, background="#2b2b2b", **options
        )
        self.pixelated = pixelated
        self.caption = caption
        self.image: Image.Image | None = None
        self.zoom = 1.0
        self.offset = [0.0, 0.0]
        self._photo = None
        self._drag_start = None
        self.linked: list[ImageView] = []
        self.bind("<Configure>", lambda _event: self.redraw())
        self.bind("<MouseWheel>", self._on_wheel)
        self.bind("<Button-4>", lambda event: self._zoom_at(event, 1.25))
        self.bind("<Button-5>", lambda event: self._zoom_at(event, 0.8))
        self.bind("<ButtonPress-1>", self._on_press)
        self.bind("<B1-Motion>", self._on_drag)
        self.bind("<Double-Button-1>", lambda _event: self.reset_view())

    def show(self, image: Image.Image | None, caption: str | None = None, keep_view: bool = False) -> None:
        """Draw `image`; with `keep_view`, an image of the same size keeps the zoom and pan (a
        re-computed or re-blended version of what is shown)."""
        same_size = image is not None and self.image is not None and image.size == self.image.size
        self.image = image
        if caption is not None:
            self.caption = caption
        if keep_view and same_size:
            self.redraw()
        else:
            self.zoom, self.offset = 1.0, [0.0, 0.0]
            self.redraw()

    def reset_view(self) -> None:
        self.zoom, self.offset = 1.0, [0.0, 0.0]
        self.redraw()
        self._view_changed()

    def set_view(self, zoom: float, offset) -> None:
        """Zoom and pan as another view's (linked views call this on each other)."""
        self.zoom, self.offset = zoom, [float(offset[0]), float(offset[1])]
        self.redraw()

    def _view_changed(self) -> None:
        for view in self.linked:
            view.set_view(self.zoom, self.offset)

    def displayed_size(self) -> tuple[int, int]:
        """Size in screen pixels at which the image is drawn now (0, 0 when empty)."""
        if self.image is None:
            return (0, 0)
        scale = self._fit_scale() * self.zoom
        return (max(1, round(self.image.width * scale)), max(1, round(self.image.height * scale)))

    def _fit_scale(self) -> float:
        width, height = max(self.winfo_width(), 2), max(self.winfo_height(), 2)
        return min(width / self.image.width, height / self.image.height)

    def redraw(self) -> None:
        self.delete("all")
        width, height = max(self.winfo_width(), 2), max(self.winfo_height(), 2)
        if self.image is None:
            self._photo = None
            self.create_text(width / 2, height / 2, text=self.caption, fill="#bbbbbb")
            return
        shown_width, shown_height = self.displayed_size()
        # Only the visible part is resampled, so zooming into a 12 MP photo stays fast.
        scale = shown_width / self.image.width
        left = (width - shown_width) / 2 + self.offset[0]
        top = (height - shown_height) / 2 + self.offset[1]
        visible = (
            max(0.0, -left / scale),
            max(0.0, -top / scale),
            min(self.image.width, (width - left) / scale),
            min(self.image.height, (height - top) / scale),
        )
        if visible[2] <= visible[0] or visible[3] <= visible[1]:
            return
        region = self.image.crop(tuple(round(v) for v in visible))
        target = (max(1, round(region.width * scale)), max(1, round(region.height * scale)))
        resample = Image.Resampling.NEAREST if self.pixelated else Image.Resampling.BILINEAR
        self._photo = ImageTk.PhotoImage(region.resize(target, resample))
        self.create_image(max(left, 0), max(top, 0), image=self._photo, anchor="nw")
        if self.caption:
            self.create_text(6, 6, text=self.caption, fill="#eeeeee", anchor="nw")

    def _on_wheel(self, event) -> None:
        self._zoom_at(event, 1.25 if event.delta > 0 else 0.8)

    def _zoom_at(self, event, factor: float) -> None:
        if self.image is None:
            return
        new_zoom = min(max(self.zoom * factor, 1.0), 32.0)
        factor = new_zoom / self.zoom
        centre_x, centre_y = self.winfo_width() / 2, self.winfo_height() / 2
        self.offset[0] = (self.offset[0] - (event.x - centre_x)) * factor + (event.x - centre_x)
        self.offset[1] = (self.offset[1] - (event.y - centre_y)) * factor + (event.y - centre_y)
        self.zoom = new_zoom
        if self.zoom == 1.0:
            self.offset = [0.0, 0.0]
        self.redraw()
        self._view_changed()

    def _on_press(self, event) -> None:
        self._drag_start = (event.x, event.y, *self.offset)

    def _on_drag(self, event) -> None:
        if self._drag_start is None or self.zoom == 1.0:
            return
        start_x, start_y, offset_x, offset_y = self._drag_start
        self.offset = [offset_x + event.x - start_x, offset_y + event.y - start_y]
        self.redraw()
        self._view_changed()


def link_views(*views: ImageView) -> None:
    """Zooming or panning any of `views` zooms or pans the others the same way. Meant for
    images of one size shown in canvases of one size."""
    for view in views:
        view.linked = [other for other in views if other is not view]


def photo_beside(parent, caption: str) -> tuple[ttk.Frame, ImageView, ImageView]:
    """A frame holding the photo and one view of it side by side, sharing the width alike and
    linked (zooming or panning one moves the other): (frame, photo view, other view)."""
    frame = ttk.Frame(parent)
    photo = ImageView(frame, 240, 180, caption="photo (wheel zooms, drag pans)")
    other = ImageView(frame, 240, 180, caption=caption)
    frame.columnconfigure((0, 1), weight=1, uniform="views")
    frame.rowconfigure(0, weight=1)
    photo.grid(row=0, column=0, sticky="nsew", padx=(0, 3))
    other.grid(row=0, column=1, sticky="nsew", padx=(3, 0))
    link_views(photo, other)
    return frame, photo, other
