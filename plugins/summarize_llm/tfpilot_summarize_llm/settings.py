"""The ``[plugins.summarize_llm]`` settings (selected with ``[core] summarizer = "llm"``).

Example::

    [core]
    summarizer = "llm"

    [plugins.summarize_llm]
    model = "openai/gpt-4o-mini"
    api_base = "https://llm.internal.example/v1"   # any OpenAI-compatible endpoint
    api_key = { "$env" = "LLM_API_KEY" }
    timeout_seconds = 20
    max_prompt_tokens = 4000
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class LLMSettings(BaseModel):
    """The ``[plugins.summarize_llm]`` section: which model, where, and the limits of a call."""

    model_config = ConfigDict(extra="forbid")

    #: The litellm model name, provider prefixed (``openai/gpt-4o-mini``, ``ollama/llama3``).
    model: str = Field(min_length=1, max_length=200)
    #: The endpoint (``https://host/v1`` for an OpenAI-compatible server); ``None``: the
    #: provider's default.
    api_base: str | None = None
    #: The API key; write it as ``{ "$env" = "VAR" }`` or ``{ "$file" = "path" }``.
    api_key: SecretStr | None = None
    #: Seconds the plan waits for the model before it uses the rules summary.
    timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    #: The prompt's budget in tokens (litellm's token counter); over it, the facts are trimmed,
    #: and if they still do not fit, the rules summary is used.
    max_prompt_tokens: int = Field(default=4000, ge=256, le=200_000)
    #: The answer's budget in tokens (``max_tokens`` of the call).
    max_answer_tokens: int = Field(default=600, ge=64, le=8000)
    #: Longest narrative accepted, in characters (a longer one is "over budget").
    max_answer_chars: int = Field(default=2000, ge=100, le=20_000)
    #: Sampling temperature; 0 so that the same facts give the same answer where the model can.
    temperature: float = Field(default=0.0, ge=0.0, le=0.0)
    #: Keep accepted summaries by (plan facts digest, model, prompt version) under the plugin's
    #: home, so the same plan is never sent twice.
    cache: bool = True
    #: Also ask the model for suggestions (``tfpilot suggest``); each passes the same schema and
    #: policy checks as the built-in rules' before it is shown.
    suggestions: bool = False
    #: Let the model answer ``tfpilot ask`` questions the offline parser cannot read, with the
    #: typed query as its only tool (every tool call is validated into a Query before it runs).
    ask: bool = False
    #: Let the model propose input values in the request assistant (``requests new --assist``);
    #: every proposal passes the schema and allowlist first; sensitive inputs are never sent.
    assist: bool = False
