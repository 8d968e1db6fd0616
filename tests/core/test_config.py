"""Configuration: file discovery, overrides, plugin sections, secret references, masking."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tfpilot_core.config import effective, load_config, resolve_secrets
from tfpilot_core.errors import ConfigError
from tfpilot_core.plugins import PluginHost
from tfpilot_core.registrations import Kind, Registration
from tfpilot_core.testing import plugin_with


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tfpilot.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(None, environ={"TFPILOT_HOME": str(tmp_path)})
    assert config.core.store == "embedded"
    assert [e.key for e in config.core.environments] == ["dev", "stage", "prod"]
    assert config.environment("prod").protected


def test_file_from_env_and_explicit(tmp_path: Path) -> None:
    path = write(tmp_path, '[core]\nstore = "s3"\n')
    assert load_config(None, environ={"TFPILOT_CONFIG": str(path)}).core.store == "s3"
    assert load_config(path, environ={}).source == path
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", environ={})


def test_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, '[core]\nstore = "s3"\n[plugins.store_s3]\nbucket = "a"\n')
    config = load_config(
        path,
        environ={
            "TFPILOT_CORE__STORE": "embedded",
            "TFPILOT_PLUGINS__STORE_S3__BUCKET": "b",
            "TFPILOT_CORE__STALE_AFTER_SECONDS": "600",
        },
    )
    assert config.core.store == "embedded"
    assert config.plugins["store_s3"]["bucket"] == "b"
    assert config.core.stale_after_seconds == 600
    assert config.overrides["core.store"] == "TFPILOT_CORE__STORE"


def test_config_typos_get_a_hint_in_tfpilots_words(tmp_path: Path) -> None:
    cases = {
        '[users.alice]\nrol = "developer"\n': "unknown key 'rol' (did you mean 'role'?)",
        '[[core.environments]]\nkey = "dev"\nprotectd = true\n': "(did you mean 'protected'?)",
        "[notifcations]\n": "(did you mean 'notifications'?)",
        "[core]\nzzzz = 1\n": "unknown key 'zzzz'; known keys: store,",
    }
    for text, expected in cases.items():
        with pytest.raises(ConfigError) as info:
            load_config(write(tmp_path, text), environ={})
        assert expected in info.value.message and "Extra inputs" not in info.value.message


def test_unknown_environment_is_user_input_with_a_hint(tmp_path: Path) -> None:
    from tfpilot_core.errors import ExitCode, UnknownEnvironmentError

    config = load_config(None, environ={})
    with pytest.raises(UnknownEnvironmentError) as info:
        config.environment("production")
    assert info.value.exit_code == ExitCode.VALIDATION
    assert info.value.message == (
        "unknown environment 'production' (configured: dev, stage, prod) (did you mean 'prod'?)"
    )


def test_invalid_config_names_file_key_and_reason(tmp_path: Path) -> None:
    path = write(tmp_path, '[core]\nstroe = "s3"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(path) in info.value.message and "core.stroe" in info.value.message
    # tfpilot's own wording, with a did-you-mean (not pydantic's "Extra inputs ...").
    assert "unknown key 'stroe' (did you mean 'store'?)" in info.value.message
    bad_toml = write(tmp_path, "[core\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad_toml, environ={})
    with pytest.raises(ConfigError, match="overridden by"):
        load_config(
            None,
            environ={"TFPILOT_CORE__STALE_AFTER_SECONDS": "1", "TFPILOT_HOME": str(tmp_path / "h")},
        )


def test_plugin_sections_are_validated_by_the_plugin_model(
    tfpilot_host: PluginHost, register_plugin: Any, tmp_path: Path
) -> None:
    class Settings(BaseModel):
        url: str
        retries: int = 3

    register_plugin(
        plugin_with(
            "tfpilot_register_notifiers",
            lambda: [Registration(name="chat", factory=lambda s, c: s, settings_model=Settings)],
        )
    )
    tfpilot_host.config.plugins["chat"] = {"url": "https://x", "retries": "many"}
    [(_, registration)] = tfpilot_host.registrations(Kind.NOTIFIER)
    with pytest.raises(ConfigError) as info:
        tfpilot_host.settings_for(registration)
    assert "plugins.chat.retries" in info.value.message
    assert "valid integer" in info.value.message
    tfpilot_host.config.plugins["chat"]["retries"] = "5"
    settings = tfpilot_host.settings_for(registration)
    assert isinstance(settings, Settings) and settings.retries == 5


def test_secret_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "token.txt"
    secret_file.write_text("file-secret\n")
    path = write(
        tmp_path,
        '[plugins.chat]\nurl = { "$env" = "CHAT_URL" }\ntoken = { "$file" = "token.txt" }\n',
    )
    monkeypatch.setenv("CHAT_URL", "https://hooks.example/abc")
    config = load_config(path, environ={})
    resolved = resolve_secrets(config.plugins["chat"], config)
    assert resolved == {"url": "https://hooks.example/abc", "token": "file-secret"}
    shown = effective(config)["plugins"]["chat"]
    assert shown == {"url": "***($env:CHAT_URL)", "token": "***($file:token.txt)"}
    monkeypatch.delenv("CHAT_URL")
    with pytest.raises(ConfigError, match="CHAT_URL"):
        resolve_secrets(config.plugins["chat"], config)


def test_show_masks_secret_looking_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[plugins.chat]\nwebhook_url = "https://hooks.example/T0/B0/xyz"\nchannel = "ops"\n',
    )
    shown = effective(load_config(path, environ={}))["plugins"]["chat"]
    assert shown == {"webhook_url": "***", "channel": "ops"}


toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(), st.text(max_size=20), st.none()),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(core=st.dictionaries(st.text(max_size=20), toml_values, max_size=4))
def test_any_core_section_gives_a_config_or_a_clear_error(core: dict[str, Any]) -> None:
    """Configuration comes from outside: any content is a config or a ConfigError, never a crash."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            f"TFPILOT_CORE__{k.upper()}": json.dumps(v)
            for k, v in core.items()
            if k.isidentifier() and "__" not in k
        }
        env["TFPILOT_HOME"] = tmp
        try:
            load_config(None, environ=env)
        except ConfigError as exc:
            assert "core" in exc.message


def test_a_registration_can_read_its_plugins_section(
    tfpilot_host: PluginHost, register_plugin: Any
) -> None:
    class Settings(BaseModel):
        bucket: str

    register_plugin(
        plugin_with(
            "tfpilot_register_stores",
            lambda: [
                Registration(
                    name="s3",
                    factory=lambda s, c: s,
                    settings_model=Settings,
                    settings_section="store_s3",
                )
            ],
        )
    )
    [(_, registration)] = [r for r in tfpilot_host.registrations(Kind.STORE) if r[1].name == "s3"]
    tfpilot_host.config.plugins["store_s3"] = {"bucket": "b1"}
    assert tfpilot_host.settings_for(registration) == Settings(bucket="b1")
    tfpilot_host.config.plugins["store_s3"] = {}
    with pytest.raises(ConfigError, match=r"plugins\.store_s3\.bucket"):
        tfpilot_host.settings_for(registration)


def test_every_plugin_section_is_validated_at_start(
    tfpilot_host: PluginHost, register_plugin: Any
) -> None:
    class Settings(BaseModel):
        url: str

    register_plugin(
        plugin_with(
            "tfpilot_register_notifiers",
            lambda: [Registration(name="chat", factory=lambda s, c: s, settings_model=Settings)],
        )
    )
    tfpilot_host.config.plugins["chat"] = {"url": 3}
    tfpilot_host.config.plugins["not_installed"] = {"x": 1}
    with pytest.raises(ConfigError, match=r"plugins\.chat\.url"):
        tfpilot_host.validate_settings()
    tfpilot_host.config.plugins["chat"] = {"url": "https://x"}
    assert tfpilot_host.validate_settings() == ["not_installed"]


def test_resolved_secrets_are_masked_in_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import structlog

    from tfpilot_core.telemetry import setup_logging

    path = write(tmp_path, '[plugins.chat]\ntoken = { "$env" = "CHAT_TOKEN" }\n')
    monkeypatch.setenv("CHAT_TOKEN", "xoxb-very-secret-token")
    config = load_config(path, environ={})
    previous = structlog.get_config()
    try:
        setup_logging(fmt="json", level="info")
        resolve_secrets(config.plugins["chat"], config)
        structlog.get_logger("test").info("posting", url="https://x/?token=xoxb-very-secret-token")
    finally:
        structlog.configure(**previous)
    err = capsys.readouterr().err
    assert "posting" in err and "xoxb-very-secret-token" not in err
    # Masked by the registered secret, then the scrubber's token rule (issue 27): either mask.
    assert "(sensitive)" in err or "(redacted)" in err
