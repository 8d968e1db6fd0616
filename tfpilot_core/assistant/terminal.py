"""The assistant in a terminal: questions through click's prompts."""

from __future__ import annotations

import click

from tfpilot_core.assistant.flow import Question

__all__ = ["TerminalConversation"]


class TerminalConversation:
    """Asks on the terminal; sensitive inputs are typed without echo."""

    def __init__(self, *, err: bool = False) -> None:
        self._err = err

    def ask(self, question: Question) -> str:
        """Prompt, showing the choices and the default (Enter takes it)."""
        prompt = question.prompt
        if question.choices:
            prompt += f" [{' | '.join(question.choices)}]"
        answer: str = click.prompt(
            prompt,
            default=question.default if question.default not in (None, "") else "",
            show_default=bool(question.default),
            hide_input=question.secret,
            err=self._err,
            type=str,
        )
        return answer.strip()

    def say(self, text: str) -> None:
        """Print a line."""
        click.echo(text, err=self._err)
