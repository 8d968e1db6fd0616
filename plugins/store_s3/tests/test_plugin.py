"""The plugin as the core sees it: registration, settings, lazy boto3, the store via the host."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from tfpilot_core.config import load_config
from tfpilot_core.interfaces import Store
from tfpilot_core.plugins import PluginHost, load_plugins
from tfpilot_core.registrations import PluginContext
from tfpilot_core.testing.store_conformance import make_request
from tfpilot_store_s3 import plugin
from tfpilot_store_s3.settings import S3StoreSettings
from tfpilot_store_s3.store import S3StoreError
from tfpilot_store_s3.testing import MotoS3Server


def test_registration() -> None:
    (registration,) = plugin.tfpilot_register_stores()
    assert registration.name == "s3"
    assert registration.settings_model is S3StoreSettings


def test_settings() -> None:
    settings = S3StoreSettings(bucket="my-bucket", prefix="team-a")
    assert settings.prefix == "team-a/" and settings.sse == "AES256"
    assert S3StoreSettings(bucket="b-1", prefix="").prefix == ""
    kms = S3StoreSettings(bucket="my-bucket", sse="aws:kms", kms_key_id="alias/x")
    assert kms.kms_key_id == "alias/x"
    for bad in (
        {"bucket": "my-bucket", "kms_key_id": "alias/x"},  # a key without aws:kms
        {"bucket": "My_Bucket"},
        {"bucket": "my-bucket", "prefix": "../up"},
        {"bucket": "my-bucket", "aws_secret_access_key": "x"},  # credentials are not settings
        {"bucket": "my-bucket", "sse": "none"},
    ):
        with pytest.raises(PydanticValidationError):
            S3StoreSettings(**bad)


def test_importing_the_plugin_does_not_import_boto3() -> None:
    code = (
        "import sys, tfpilot_store_s3.plugin; "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'eager import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _host(tmp_path: Path, body: str) -> PluginHost:
    path = tmp_path / "tfpilot.toml"
    path.write_text(body)
    config = load_config(path, environ={})
    loaded = load_plugins(environ={"TFPILOT_LOAD_PLUGINS": "store_s3"}, strict=True)
    return PluginHost(loaded, config, PluginContext(home=tmp_path, config_path=path))


def test_selected_through_the_core(tmp_path: Path, moto_server: MotoS3Server, bucket: str) -> None:
    host = _host(
        tmp_path,
        '[core]\nstore = "s3"\n'
        f'[plugins.store_s3]\nbucket = "{bucket}"\nregion = "us-east-1"\n'
        f'endpoint_url = "{moto_server.endpoint_url}"\nprefix = "via-core"\n',
    )
    store = host.store()
    assert isinstance(store, Store)
    store.create_request(make_request("req_core"))
    assert store.get_request("req_core").version == 1


def test_missing_bucket_fails_at_start_naming_it(tmp_path: Path, moto_server: MotoS3Server) -> None:
    host = _host(
        tmp_path,
        '[core]\nstore = "s3"\n'
        '[plugins.store_s3]\nbucket = "not-there"\nregion = "us-east-1"\n'
        f'endpoint_url = "{moto_server.endpoint_url}"\n',
    )
    # A TfpilotError of its own (naming the plugin) passes through the core unchanged.
    with pytest.raises(S3StoreError, match=r"not-there.*does not exist") as caught:
        host.store()
    assert caught.value.plugin == "store_s3"
