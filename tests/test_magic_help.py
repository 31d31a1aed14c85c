"""``%%pai_train?`` and ``%pai_deploy?`` in a real IPython shell show the full option help, as --help does."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.mark.parametrize(
    ("question", "help_line", "options"),
    [
        (
            "%%pai_train?",
            "%%pai_train --help",
            ["--workers", "--experiment", "--no-autolog", "--spot-price-limit"],
        ),
        ("%pai_deploy?", "%pai_deploy --help", ["--processor", "--instances"]),
        ("%pai_compare?", "%pai_compare --help", ["--metric", "--maximize / --minimize", "--sort"]),
    ],
)
def test_question_mark_shows_what_help_shows(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], question: str, help_line: str, options: list[str]
) -> None:
    ip.run_cell(question)
    inspected = capsys.readouterr().out
    magic, _, _ = help_line.partition(" ")
    if magic.startswith("%%"):
        ip.run_cell_magic(magic[2:], "--help", "pass")
    else:
        ip.run_line_magic(magic[1:], "--help")
    helped = " ".join(capsys.readouterr().out.split())
    assert helped.startswith("Usage:") and helped in " ".join(inspected.split()), inspected
    assert all(option in inspected for option in options)
