"""Finding plugins: the built-in one, entry points of the group `imagier.plugins`, and plugin folders.

A plugin that fails to import (or declares an action the form cannot show) is reported with its error
and skipped; it never stops the others or the app. When two plugins have the same name the first found
wins (built-in, then entry points, then `IMAGIER_PLUGINS` folders in order, then the project's
`plugins/` folder) and the other is reported.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInput, NotFound
from . import ATTRIBUTE, Action

GROUP = "imagier.plugins"
BUILTIN = "imagier"
ENVIRONMENT = "IMAGIER_PLUGINS"


@dataclass(frozen=True)
class Source:
    """How to load one plugin again (a worker process does): picklable on purpose."""
    kind: str  # "builtin", "entry point" or "folder"
    name: str
    target: str  # the module (entry point, built-in) or the file or package folder
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        if self.kind == "entry point":
            return f"entry point {self.name} = {self.target}" + (f" ({self.distribution})" if self.distribution else "")
        return self.target if self.kind == "folder" else "built in"


@dataclass
class Plugin:
    name: str
    version: str | None
    source: Source
    module: str
    actions: dict[str, Action] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        return self.source.kind == "builtin"

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "module": self.module,
                "distribution": self.source.distribution, "source": self.source.describe(),
                "builtin": self.builtin, "actions": [a.to_dict() for a in self.actions.values()]}


@dataclass
class Plugins:
    """What discovery found: the plugins by name and the load errors."""
    plugins: dict[str, Plugin]
    errors: list[dict]

    def to_dict(self) -> dict:
        return {"plugins": [p.to_dict() for p in self.plugins.values()], "errors": self.errors}

    def plugin(self, ref: str) -> Plugin:
        """A plugin by its name, module or distribution name."""
        for plugin in self.plugins.values():
            if ref in (plugin.name, plugin.module, plugin.source.distribution):
                return plugin
        failed = [e for e in self.errors if e["plugin"] == ref]
        if failed:
            raise InvalidInput(f"the plugin {ref!r} could not be loaded: {failed[0]['error']}", plugin=ref)
        raise NotFound(f"no plugin named {ref!r}; the plugins are: {', '.join(self.plugins)}", plugin=ref)

    def action(self, ref: str) -> Action:
        """An action by "PLUGIN.ACTION" (PLUGIN: the plugin's name, module or distribution name)."""
        plugin_ref, dot, action_name = ref.rpartition(".")
        if not dot or not plugin_ref or not action_name:
            raise InvalidInput(f"name an action as PLUGIN.ACTION (such as imagier.kmeans), not {ref!r}", action=ref)
        plugin = self.plugin(plugin_ref)
        if action_name not in plugin.actions:
            raise NotFound(f"the plugin {plugin.name!r} has no action {action_name!r}; its actions are: "
                           f"{', '.join(plugin.actions) or 'none'}", plugin=plugin.name, action=action_name)
        return plugin.actions[action_name]


def folders(project_path: Path | None) -> list[Path]:
    """The plugin folders: those of $IMAGIER_PLUGINS, then `plugins/` beside the project file."""
    found = [Path(part).expanduser() for part in os.environ.get(ENVIRONMENT, "").split(os.pathsep) if part.strip()]
    if project_path is not None:
        found.append(Path(project_path).parent / "plugins")
    return found


def sources(project_path: Path | None) -> tuple[list[Source], list[dict]]:
    """Every plugin there is to load, in priority order, and the folders that cannot be read."""
    found = [Source("builtin", BUILTIN, f"{__package__}.builtin")]
    errors = []
    for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        found.append(Source("entry point", ep.name, ep.value, dist.name if dist else None,
                            dist.version if dist else None))
    from_environment = len(folders(None))
    for position, folder in enumerate(folders(project_path)):
        if not folder.is_dir():
            if position < from_environment:  # a folder the user named must exist; the project's may not
                errors.append({"plugin": str(folder), "source": ENVIRONMENT,
                               "error": f"the plugin folder {folder} does not exist"})
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(("_", ".")):
                continue
            if entry.suffix == ".py" and entry.is_file():
                found.append(Source("folder", entry.stem, str(entry.resolve())))
            elif entry.is_dir() and (entry / "__init__.py").is_file():
                found.append(Source("folder", entry.name, str(entry.resolve())))
    return found, errors


def discover(project_path: Path | None) -> Plugins:
    """Load every plugin; report (never raise) the ones that fail."""
    candidates, errors = sources(project_path)
    plugins: dict[str, Plugin] = {}
    for source in candidates:
        if source.name in plugins:
            errors.append({"plugin": source.name, "source": source.describe(),
                           "error": f"another plugin named {source.name!r} was found first "
                                    f"({plugins[source.name].source.describe()}); rename one of them"})
            continue
        try:
            plugins[source.name] = load(source)
        except (Exception, SystemExit) as e:
            errors.append({"plugin": source.name, "source": source.describe(), "error": _explain(e)})
    return Plugins(plugins, errors)


def _explain(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text if isinstance(e, InvalidInput) else f"{type(e).__name__}: {text}"


def load(source: Source) -> Plugin:
    """Import one plugin and collect its actions."""
    if source.kind == "folder":
        module = _import_path(source.name, Path(source.target))
    else:
        module_name = source.target.partition(":")[0].strip()
        module = importlib.import_module(module_name)
    version = source.version or getattr(module, "__version__", None)
    plugin = Plugin(source.name, None if version is None else str(version), source, module.__name__)
    for value in list(vars(module).values()):
        declared = getattr(value, ATTRIBUTE, None)
        if not isinstance(declared, Action) or not _defined_in(value, module):
            continue
        if declared.name in plugin.actions:
            raise InvalidInput(f"it declares two actions named {declared.name!r}")
        plugin.actions[declared.name] = dataclasses.replace(declared, plugin=source.name)
    if not plugin.actions:
        raise InvalidInput("it declares no action (decorate functions with @imagier.plugins.action(kind=...))")
    return plugin


def _defined_in(fn, module: types.ModuleType) -> bool:
    # An action imported from another plugin (or the built-in one) is not this plugin's.
    defined = getattr(fn, "__module__", "") or ""
    return defined == module.__name__ or defined.startswith(module.__name__ + ".")


def _import_path(name: str, path: Path) -> types.ModuleType:
    """Import a plugin file or package folder under a name of its own (imported again on each discovery,
    so an edited plugin is picked up by `imagier plugins` and by the page's reload)."""
    module_name = f"imagier_plugin_{name}"
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(module_name, path / "__init__.py",
                                                      submodule_search_locations=[str(path)])
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    for loaded in [m for m in sys.modules if m == module_name or m.startswith(module_name + ".")]:
        del sys.modules[loaded]
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
