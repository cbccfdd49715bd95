"""Named plug-ins: spaces, searchers, surrogates, benchmarks and tasks, one mechanism for all.

A registry maps a name to a factory. Three sources fill it, all on the
first lookup (``names``, ``factory``, ``create``), never at import time, so
``import nasframe`` imports no space, model or torch:

1. the built-ins: each registry names the module that registers them
   (``"search_spaces"`` for :data:`SPACES`, ...) and imports it by name, so
   this bottom layer never imports a layer above it;
2. the modules listed in the ``NASFRAME_PLUGINS`` environment variable
   (comma-separated module names): a plug-in with no packaging at all, e.g.
   a module next to a script or under ``tests/``, registers with one call;
3. the entry-point group of each registry (``nasframe.spaces``, ...): how an
   installed third-party package declares its plug-ins.

A factory may be given as ``"module:attribute"`` and is imported when first
used, so a provider registers everything it has without importing any of it.
A name registered again replaces the earlier factory, and a plug-in's name
overrides a built-in of the same name whichever was imported first; a name
registered in code wins over an entry point of the same name.
"""

from __future__ import annotations

import os
from importlib import import_module, metadata
from typing import Any, Callable, Generic, TypeVar, Union

from nasframe.core.errors import UnknownName

T = TypeVar("T")

#: environment variable naming plug-in modules to import on first lookup
PLUGINS_VARIABLE = "NASFRAME_PLUGINS"

Factory = Union[Callable[..., Any], str]

_plugins_imported = False


def resolve(target: str) -> Any:
    """The object an import string ``"package.module:attribute"`` names."""
    module, _, attribute = target.partition(":")
    if not module or not attribute:
        raise ValueError(f"a factory import string is 'module:attribute', got {target!r}")
    value: Any = import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def import_plugins() -> None:
    """Import the modules of ``NASFRAME_PLUGINS`` once per process (they register themselves)."""
    global _plugins_imported
    if _plugins_imported:
        return
    _plugins_imported = True  # set first: a plug-in that looks a name up must not re-enter
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_VARIABLE, "").split(","))):
        try:
            import_module(module)
        except ImportError as exc:
            _plugins_imported = False  # every later lookup fails the same way, none silently
            raise ImportError(f"{PLUGINS_VARIABLE} names {module!r}, which cannot be imported: {exc}") from exc


class Registry(Generic[T]):
    """A name -> factory table of one kind of plug-in.

    ``builtins`` is the module whose import registers the built-in plug-ins of
    this kind (``None``: there are none); ``group`` the entry-point group that
    installed packages declare theirs in.
    """

    def __init__(self, kind: str, group: str, builtins: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self.builtins = builtins
        self._factories: dict[str, Factory] = {}
        self._entry_points: dict[str, metadata.EntryPoint] | None = None

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r}, builtins={self.builtins!r})"

    def register(self, name: str, factory: Factory | None = None) -> Any:
        """Register ``factory`` (a callable or ``"module:attribute"``) under ``name``.

        Without ``factory`` it is a decorator: ``@SEARCHERS.register("mine")``.
        """

        def add(f: Factory) -> Factory:
            self._factories[name] = f
            return f

        return add(factory) if factory is not None else add

    def _load(self) -> dict[str, metadata.EntryPoint]:
        """Import the built-ins and the plug-in modules, read the entry points (first call only)."""
        if self._entry_points is None:
            self._entry_points = {}  # set first: the imports below register into this registry
            try:
                if self.builtins:
                    earlier = dict(self._factories)
                    import_module(self.builtins)
                    self._factories.update(earlier)  # what was registered before the built-ins loaded overrides them
                import_plugins()
            except BaseException:
                self._entry_points = None  # a failed load is retried (and fails loudly) on the next lookup
                raise
            self._entry_points = {ep.name: ep for ep in metadata.entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        """Every name this registry knows, sorted."""
        entry_points = self._load()  # first: loading registers the built-ins and plug-ins
        return sorted(set(self._factories) | set(entry_points))

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; :class:`UnknownName` (a ``KeyError``) listing the known names otherwise."""
        entry_points = self._load()
        if name not in self._factories:
            if name not in entry_points:
                known = ", ".join(self.names()) or "none installed"
                raise UnknownName(f"unknown {self.kind} {name!r}; known: {known}")
            self._factories[name] = entry_points[name].load()
        found = self._factories[name]
        if isinstance(found, str):
            found = self._factories[name] = resolve(found)
        return found

    def create(self, name: str, **kwargs: Any) -> T:
        """A new object from the factory registered as ``name``."""
        return self.factory(name)(**kwargs)


SPACES: Registry[Any] = Registry("search space", "nasframe.spaces", builtins="search_spaces")
SURROGATES: Registry[Any] = Registry("surrogate family", "nasframe.surrogates", builtins="surrogates")
BENCHMARKS: Registry[Any] = Registry("benchmark", "nasframe.benchmarks", builtins="benchmarks.catalog")
SEARCHERS: Registry[Any] = Registry("searcher", "nasframe.searchers", builtins="nasframe.searchers")
TASKS: Registry[Any] = Registry("task", "nasframe.tasks", builtins="nasframe.tasks")


def load_space(name: str, **kwargs: Any) -> Any:
    """The search space registered as ``name`` (``"nb101"``, ``"darts"``, ``"enas"``...)."""
    return SPACES.create(name, **kwargs)
