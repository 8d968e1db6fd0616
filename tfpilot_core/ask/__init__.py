"""``tfpilot ask``: questions in English, answered offline through the typed query layer.

:func:`ask` parses the question (:mod:`tfpilot_core.ask.parser`), runs the query it became with
:meth:`Platform.query <tfpilot_core.platform.Platform.query>` (scoped by the asker's read
grants), and words the answer. The structured query is always part of the answer. A question the
parser does not understand is answered with that fact and examples that work; its text is never
run against anything.
"""

from tfpilot_core.ask.answer import Answer, ask, render_answer
from tfpilot_core.ask.parser import EXAMPLES, Parsed, parse_question

__all__ = ["EXAMPLES", "Answer", "Parsed", "ask", "parse_question", "render_answer"]
