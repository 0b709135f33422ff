"""Planner configuration (``config/planner.yaml``, section ``planner``), validated like robomem/config.py.

Load with :func:`load_planner_config` or ``robomem.config.load_yaml(PlannerConfig, path, section="planner")``;
ROS parameters use the flattened names (``planner.timeout_s``) via ``robomem.config.flatten``.
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo
from pathlib import Path
from typing import Union

from robomem.config import _non_negative, _positive, load_yaml
from robomem.errors import ConfigError

__all__ = ["PlannerConfig", "load_planner_config"]

IMAGE_FORMATS = ("png", "jpeg")


@dataclasses.dataclass(frozen=True)
class PlannerConfig:
    """Which planner backend answers tasks, and how it talks to its model.

    backend: planner registry name ("rule_based", "openai", "local_vlm").
    endpoint: base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI);
        ``/v1/chat/completions`` is appended unless the URL ends with ``/v1`` or ``/chat/completions``.
    model: model name sent to the endpoint ("" lets single-model servers pick theirs).
    api_key_env: name of the environment variable holding the API key ("" = send no Authorization header).
    timeout_s: per-request socket timeout, s. max_retries: retries after the first try on connection errors,
        timeouts, HTTP 429 and 5xx (so ``max_retries + 1`` tries in all). retry_backoff_s: first back-off,
        doubled per retry, s.
    max_tool_rounds: model turns per task (tool calls + final answer) before answering UNKNOWN.
    n_keyframes: keyframe thumbnails attached to the first prompt (0 = none).
    image_format: "png" or "jpeg" for the attached thumbnails.
    local_model_path: directory of a transformers chat model saved with ``save_pretrained`` (local_vlm).
    max_new_tokens: generation budget per model turn. temperature: 0 = greedy/deterministic.
    device: torch device for local_vlm ("cpu", "cuda", "auto").
    timezone: IANA zone in which "HH:MM" times in tool arguments and the times shown to the model are read
        (the memory's day is the date of its first stamp in this zone).
    """

    backend: str = "rule_based"
    endpoint: str = "http://127.0.0.1:8000"
    model: str = ""
    api_key_env: str = ""
    timeout_s: float = 60.0
    max_retries: int = 3
    retry_backoff_s: float = 1.0
    max_tool_rounds: int = 8
    n_keyframes: int = 4
    image_format: str = "png"
    local_model_path: str = ""
    max_new_tokens: int = 512
    temperature: float = 0.0
    device: str = "cpu"
    timezone: str = "UTC"

    def validate(self) -> None:
        if not self.backend:
            raise ConfigError("planner.backend must name a planner backend, e.g. 'rule_based', 'openai'")
        if not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(
                f"planner.endpoint must be an http:// or https:// URL, got {self.endpoint!r} "
                "(e.g. http://127.0.0.1:8000 for vLLM, http://127.0.0.1:11434 for Ollama)"
            )
        _positive(self, "timeout_s", "max_tool_rounds", "max_new_tokens")
        _non_negative(self, "max_retries", "retry_backoff_s", "n_keyframes", "temperature")
        if self.image_format not in IMAGE_FORMATS:
            raise ConfigError(
                f"planner.image_format must be one of {IMAGE_FORMATS}, got {self.image_format!r}"
            )
        if self.device not in ("cpu", "cuda", "auto") and not self.device.startswith("cuda:"):
            raise ConfigError(
                f"planner.device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}"
            )
        self.tzinfo()

    def tzinfo(self) -> datetime.tzinfo:
        """The :attr:`timezone` as a tzinfo (ConfigError if unknown)."""
        if self.timezone.upper() == "UTC":
            return datetime.timezone.utc
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"planner.timezone {self.timezone!r} is not a known IANA zone; "
                "use e.g. 'UTC' or 'Europe/Berlin'"
            ) from None


def load_planner_config(path: Union[str, Path]) -> PlannerConfig:
    """Load and validate the ``planner`` section of a YAML file."""
    return load_yaml(PlannerConfig, path, section="planner")
