"""A static HTML report of a run: ``paperbeam review`` and ``paperbeam run --review``.

``render.render_report`` turns records, dead letters and the run summary into
a folder that opens from the file system and works offline: ``index.html``
(summary, a sortable and filterable table of documents, plots), one page per
document (page images with the extracted fields' boxes drawn over them, and a
corrections form that exports ground truth), and ``assets/`` (the plain CSS
and JavaScript shipped in this package; no CDN).
"""

from paperbeam.review.render import load_run, render_report

__all__ = ["load_run", "render_report"]
