"""Which provider serves a spec: the built-in vendors, the embedded local judge, or a plugin.

Plugins register a factory ``(spec, **kwargs) -> Provider`` in the ``jp_bench.judges`` entry-point
group of their distribution, e.g. in pyproject.toml::

    [project.entry-points."jp_bench.judges"]
    echo = "my_package.providers:make_echo_provider"

and a judge YAML then says ``provider: echo``.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from jp_bench.errors import JpBenchError
from jp_bench.llm.types import ModelSpec, Provider

ENTRY_POINT_GROUP = "jp_bench.judges"
BUILTIN_PROVIDERS = ("openai", "openai-compatible", "anthropic", "embedded")
# Providers whose requests carry no temperature (Anthropic's API version answers 400 to any sampling
# parameter): a temperature given for them would change the store key, never the reply.
SENDS_NO_TEMPERATURE = frozenset({"anthropic"})


def get_provider(spec: ModelSpec, **kwargs: Any) -> Provider:
    """A provider for ``spec.provider``; ``kwargs`` go to its constructor (e.g. ``http_client``)."""
    name = spec.provider
    if name in BUILTIN_PROVIDERS:
        return _builtin(name, spec, kwargs)
    plugin = _plugins().get(name)
    if plugin is None:
        raise JpBenchError(f"unknown model provider {name!r}; known providers: {', '.join(known_providers())}")
    try:
        factory = plugin.load()
    except Exception as exc:  # a broken plugin is the user's environment problem, reported in one line
        raise JpBenchError(f"provider {name!r} ({plugin.value}) could not be loaded: {exc}") from exc
    return factory(spec, **kwargs)


def known_providers() -> list[str]:
    """Built-in provider names, then the installed plugins' in alphabetical order."""
    return [*BUILTIN_PROVIDERS, *sorted(set(_plugins()) - set(BUILTIN_PROVIDERS))]


def _plugins() -> dict[str, EntryPoint]:
    # Read on every call: entry points are cheap to list and a plugin may be installed mid-session.
    return {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}


def _builtin(name: str, spec: ModelSpec, kwargs: dict[str, Any]) -> Provider:
    # The SDKs are an optional extra, imported only when a provider that needs them is asked for.
    try:
        if name == "anthropic":
            from jp_bench.llm.anthropic_provider import AnthropicProvider

            return AnthropicProvider(spec, **kwargs)
        if name == "embedded":
            from jp_bench.llm.embedded_provider import EmbeddedProvider

            return EmbeddedProvider(spec, **kwargs)
        from jp_bench.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(spec, **kwargs)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("openai", "anthropic", "httpx2"):
            raise JpBenchError(
                f"provider {name!r} needs the {exc.name} package: pip install 'jp-bench[judges]'"
            ) from None
        raise
