"""Named plug-ins: spaces, searchers, benchmarks and tasks.

Every plug-in, built-in or third-party, is found the same way: through a
Python entry point group (``nasframe.spaces``, ...) declared in the providing
package's metadata, or through :meth:`Registry.register` at run time. Entry
points are loaded lazily, on first lookup of that name, so ``import nasframe``
never imports torch or ray.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> factory table backed by one entry-point group."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._factories: dict[str, Callable[..., T]] = {}
        self._entry_points: dict[str, metadata.EntryPoint] | None = None

    def register(self, name: str, factory: Callable[..., T] | None = None):
        """Register ``factory`` under ``name``; usable as a decorator."""

        def add(f: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = f
            return f

        return add(factory) if factory is not None else add

    def _discovered(self) -> dict[str, metadata.EntryPoint]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in metadata.entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(self._discovered()))

    def factory(self, name: str) -> Callable[..., T]:
        if name not in self._factories:
            entry_point = self._discovered().get(name)
            if entry_point is None:
                known = ", ".join(self.names()) or "none installed"
                raise KeyError(f"unknown {self.kind} {name!r}; known: {known}")
            self._factories[name] = entry_point.load()
        return self._factories[name]

    def create(self, name: str, **kwargs: Any) -> T:
        return self.factory(name)(**kwargs)


spaces: Registry[Any] = Registry("search space", "nasframe.spaces")
searchers: Registry[Any] = Registry("searcher", "nasframe.searchers")
benchmarks: Registry[Any] = Registry("benchmark", "nasframe.benchmarks")
tasks: Registry[Any] = Registry("task", "nasframe.tasks")


def load_space(name: str, **kwargs: Any) -> Any:
    """The search space registered as ``name`` (``"nb101"``, ``"darts"``, ``"enas"``...)."""
    return spaces.create(name, **kwargs)
