"""``%pai_doctor [--json]``: the same account checks as ``jupyter pai doctor`` (``api.doctor``)."""

from __future__ import annotations

from IPython.core.magic import Magics, line_magic, magics_class

from ...api.doctor import as_json, render_table, run_checks


@magics_class
class DoctorMagics(Magics):
    @line_magic
    def pai_doctor(self, line: str) -> None:
        """``%pai_doctor [--json]``: the same checks as ``jupyter pai doctor``."""
        checks = run_checks()
        print(as_json(checks) if "--json" in line.split() else render_table(checks))
