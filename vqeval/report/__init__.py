"""Report writers. Every file is written atomically
(:func:`vqeval.fileio.write_atomic`, re-exported here): a temporary file in the
same folder is renamed over the target, so a reader never sees half a report
and a failed write (full disk, no permission) leaves an older file intact."""

from vqeval.fileio import ReportWriteError, write_atomic

__all__ = ["ReportWriteError", "write_atomic"]
