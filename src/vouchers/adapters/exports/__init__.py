"""Export files: the writers (CSV, XLSX, XML, PDF sheets), age encryption and the store.

``ExportFileStore`` implements the ``ExportFiles`` port: it writes a run's rows to a new
file in the export directory (mode 0600, the directory 0700), encrypts it for the print
house when asked, and deletes it when retention ends or anything fails half-way.
"""

from vouchers.adapters.exports.store import ExportFileStore

__all__ = ["ExportFileStore"]
