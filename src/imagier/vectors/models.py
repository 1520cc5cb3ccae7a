"""The models imagier can use: what each is for, whether it is on this machine, and installing the
downloadable ones, from the model hub (`get`) or from a folder or archive copied from another machine
(`add`, for laptops that are offline).

A downloadable model is a folder in the layout of its hub repository, installed as $IMAGIER_CACHE/NAME
(default ~/.cache/imagier/NAME). What the hub sends is checked against the SHA-256 the hub states for each
file (its LFS metadata; the git blob id for small files), and every folder is checked before it is
installed: its ONNX graphs are loaded with ONNX Runtime and their inputs and outputs compared with the
model's, so a corrupt or wrong file is refused by name now rather than failing in the middle of an
embedding. A folder is written beside its final place and renamed, so a model is whole or absent.

    import imagier
    imagier.models.catalogue()          # [{"name", "purpose", "uses", "present", "folder", "size", ...}]
    imagier.models.get("clip-vit-b32")  # from the hub, once
    imagier.models.add("~/usb/clip-vit-b32.zip")
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from ..errors import Conflict, InvalidInput, NotFound

CACHE_ENV = "IMAGIER_CACHE"
SOURCE_FILE = "imagier-source.json"  # where an installed model came from, and its files' SHA-256

# The models that ship with imagier or need none: what each is for (the downloadable ones say it in their spec).
BUILT_IN = {
    "efficientnet-lite0": ("image vectors for similarity and clusters, automatic labels (ImageNet classes), and "
                           "text search among the labels' names, in English; its weights ship with imagier",
                           ("image vectors", "labels", "text search")),
    "phash": ("a 64-bit perceptual hash: finds copies of the same picture", ("image vectors",)),
    "colour": ("a colour histogram: groups images by their colours", ("image vectors",)),
    "grey": ("a 16 x 16 greyscale layout: groups images by their composition", ("image vectors",)),
}


@dataclass(frozen=True)
class Graph:
    """An ONNX file of a model and the inputs and outputs it must have: {name: shape}, None for a dimension
    of any size (the batch, the text's length)."""

    path: str
    inputs: dict[str, tuple]
    outputs: dict[str, tuple]


@dataclass(frozen=True)
class Downloadable:
    """A model whose files are fetched from a hub repository rather than shipped with imagier."""

    name: str
    label: str  # how messages name it: "CLIP model"
    purpose: str
    uses: tuple[str, ...]
    hub_repo: str
    path_env: str  # the environment variable that may give its folder
    graphs: tuple[Graph, ...]
    files: tuple[str, ...]  # the other files it needs
    extras: tuple[str, ...] = ()  # fetched and kept when the repository has them (configurations)
    check: Callable[[Path], None] | None = field(default=None, compare=False)  # more checks of a folder

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(g.path for g in self.graphs) + self.files

    @property
    def how_to_provide(self) -> str:
        return (f"run `imagier models get {self.name}` (it downloads the files {', '.join(self.required)} of the "
                f"hub repository {self.hub_repo}); offline, get it on a machine with internet access and install "
                f"the folder or an archive of it here with `imagier models add PATH`, or give the folder with "
                f"--model-path DIR or the environment variable {self.path_env}")


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "imagier")


def installed_folder(name: str) -> Path:
    return cache_dir() / name


# The downloadable models, by name: each model's module offers its spec when imported (the package's
# __init__ imports them), so this module, which they import, imports none of them back.
_DOWNLOADABLE: dict[str, Downloadable] = {}


def offer(spec: Downloadable) -> Downloadable:
    """List a downloadable model in the catalogue (what `imagier models` shows, gets and adds)."""
    _DOWNLOADABLE[spec.name] = spec
    return spec


def downloadables() -> dict[str, Downloadable]:
    return dict(_DOWNLOADABLE)


def downloadable(name: str) -> Downloadable:
    specs = downloadables()
    if name in BUILT_IN:
        raise InvalidInput(f"{name} ships with imagier: there is nothing to download or install", model=name)
    if name not in specs:
        raise InvalidInput(f"{name!r} is not a model that can be downloaded; those are: {', '.join(specs)}",
                           model=name)
    return specs[name]


# ---- where a model's folder is ----------------------------------------------------------------------------

def locate(spec: Downloadable, model_path: str | Path | None = None) -> tuple[Path, str] | None:
    """The folder of the model and where it came from: `model_path`, else the folder in the model's
    environment variable ("local folder"), else the installed one; None when there is none. A folder given
    that lacks files is an error naming them."""
    given = model_path or os.environ.get(spec.path_env)
    if given:
        folder = Path(given).expanduser()
        if not folder.is_dir():
            raise NotFound(f"no {spec.label} folder at {folder}: {spec.how_to_provide}", model_path=str(folder))
        missing = [name for name in spec.required if not (folder / name).is_file()]
        if missing:
            raise NotFound(f"the {spec.label} folder {folder} lacks {', '.join(missing)}: {spec.how_to_provide}",
                           model_path=str(folder))
        return folder, "local folder"
    folder = installed_folder(spec.name)
    if all((folder / name).is_file() for name in spec.required):
        return folder, _read_source(folder).get("source", "installed")
    return None


def folder_of(spec: Downloadable, model_path: str | Path | None = None) -> tuple[Path, str]:
    """The model's folder (see `locate`), fetched from the hub and installed when there is none."""
    found = locate(spec, model_path)
    if found is None:
        entry = get(spec.name)
        return Path(entry["folder"]), entry["source"]
    return found


def _read_source(folder: Path) -> dict:
    try:
        return json.loads((folder / SOURCE_FILE).read_text())
    except (OSError, ValueError):
        return {}


# ---- the catalogue --------------------------------------------------------------------------------------

def catalogue() -> list[dict]:
    """Every model: {"name", "purpose", "uses", "present", "source", "folder", "size" (bytes of its files,
    when present), "hub" (its repository, for downloadable ones), "get" (the command that installs it)}."""
    entries = [{"name": name, "purpose": purpose, "uses": list(uses), "present": True, "source": "built in",
                "folder": None, "size": None, "hub": None, "get": None} for name, (purpose, uses) in BUILT_IN.items()]
    return entries + [describe(spec) for spec in downloadables().values()]


def describe(spec: Downloadable) -> dict:
    try:
        found = locate(spec)
    except NotFound:  # a folder in the environment variable that is wrong: shown as absent, with the fix
        found = None
    folder, source = found or (None, None)
    return {"name": spec.name, "purpose": spec.purpose, "uses": list(spec.uses), "present": found is not None,
            "source": source, "folder": str(folder) if folder else None,
            "size": _size(folder, spec) if folder else None, "hub": spec.hub_repo,
            "get": f"imagier models get {spec.name}"}


def _size(folder: Path, spec: Downloadable) -> int:
    return sum((folder / name).stat().st_size for name in spec.required + spec.extras if (folder / name).is_file())


# ---- checking a folder ----------------------------------------------------------------------------------

def check_folder(spec: Downloadable, folder: Path) -> None:
    """Refuse, naming the file, a folder that lacks one of the model's files or whose ONNX graphs ONNX
    Runtime cannot load or that do not have the model's inputs and outputs."""
    missing = [name for name in spec.required if not (folder / name).is_file()]
    if missing:
        raise InvalidInput(f"the {spec.label} folder {folder} lacks {', '.join(missing)}", model=spec.name,
                           missing=missing)
    for graph in spec.graphs:
        _check_graph(spec, folder / graph.path, graph)
    for name in (f for f in spec.files if f.endswith("tokenizer.json")):
        try:
            from tokenizers import Tokenizer
            Tokenizer.from_file(str(folder / name))
        except Exception as e:
            raise InvalidInput(f"{folder / name} is not a tokenizer file: {e}", model=spec.name, file=name) from None
    if spec.check is not None:
        spec.check(folder)


def _check_graph(spec: Downloadable, path: Path, graph: Graph) -> None:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # only reading it
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise InvalidInput(f"{path} is corrupt or not an ONNX graph (ONNX Runtime cannot load it: "
                           f"{str(e).strip()[:300]})", model=spec.name, file=graph.path) from None
    for kind, expected, actual in (("input", graph.inputs, session.get_inputs()),
                                   ("output", graph.outputs, session.get_outputs())):
        shapes = {a.name: a.shape for a in actual}
        for name, shape in expected.items():
            if name not in shapes:
                raise InvalidInput(f"{path} is not the {spec.label}'s graph: it has no {kind} {name!r} (its "
                                   f"{kind}s: {', '.join(shapes)})", model=spec.name, file=graph.path)
            got = shapes[name]
            if len(got) != len(shape) or any(want is not None and isinstance(have, int) and have != want
                                              for want, have in zip(shape, got)):
                wanted = ["any" if d is None else d for d in shape]
                raise InvalidInput(f"{path} is not the {spec.label}'s graph: its {kind} {name!r} has the shape "
                                   f"{got}, not {wanted}", model=spec.name, file=graph.path)


# ---- installing ---------------------------------------------------------------------------------------

def _install(spec: Downloadable, staged: Path, source: dict) -> dict:
    """Record where the staged (and checked) folder came from, and make it the installed model at once."""
    source = {**source, "installed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    (staged / SOURCE_FILE).write_text(json.dumps(source, indent=2))
    target = installed_folder(spec.name)
    old = target.with_name(f".{spec.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return describe(spec)


def _staging(spec: Downloadable) -> Path:
    staged = Path(tempfile.mkdtemp(prefix=f".{spec.name}.partial-", dir=_cache_root()))
    staged.chmod(0o755)  # mkdtemp's folder is private; an installed model is readable like any cache
    return staged


def add(path: str | Path, name: str | None = None) -> dict:
    """Install a model from a folder in its hub repository's layout, or from a .zip or .tar archive of one
    (the model's files may be a few folders down, as in the hub's own cache). The model is `name`, else the one whose
    files the folder has. Its files are copied and checked; returns its catalogue entry."""
    path = Path(path).expanduser()
    if not path.exists():
        raise NotFound(f"{path} does not exist: give a model's folder or a .zip or .tar archive of it", path=str(path))
    with tempfile.TemporaryDirectory(prefix=".unpacked-", dir=_cache_root()) as unpacked:
        folder = path if path.is_dir() else _unpack(path, Path(unpacked))
        spec, root = _recognise(folder, name, path)
        check_folder(spec, root)  # before copying hundreds of megabytes
        staged = _staging(spec)
        # What an archive unpacked is ours to move; a folder given stays as it is.
        transfer = shutil.copyfile if folder is path else shutil.move
        try:
            for relative in spec.required + spec.extras:
                if (root / relative).is_file():
                    (staged / relative).parent.mkdir(parents=True, exist_ok=True)
                    transfer(root / relative, staged / relative)
            return _install(spec, staged, {"source": "local folder", "added from": str(path),
                                           "sha256": {f: file_hash(staged / f) for f in spec.required}})
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise


def _cache_root() -> Path:
    cache_dir().mkdir(parents=True, exist_ok=True)
    return cache_dir()


def _unpack(archive: Path, into: Path) -> Path:
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():  # no member may land outside the folder it is unpacked into
                    if Path(member).is_absolute() or ".." in Path(member).parts:
                        raise InvalidInput(f"{archive} holds a file outside its folder ({member}): refused",
                                           path=str(archive))
                z.extractall(into)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                t.extractall(into, filter="data")  # refuses links and paths that leave the folder
        else:
            raise InvalidInput(f"{archive} is neither a folder nor a .zip or .tar archive", path=str(archive))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise InvalidInput(f"{archive} could not be unpacked (a damaged archive?): {e}", path=str(archive)) from None
    return into


def _recognise(folder: Path, name: str | None, given: Path) -> tuple[Downloadable, Path]:
    """The model whose first graph the folder (or a folder inside, a few levels down at most) has, and that
    folder."""
    specs = [downloadable(name)] if name else list(downloadables().values())
    roots = _folders_within(folder)
    for spec in specs:
        for root in roots:
            if (root / spec.graphs[0].path).is_file():
                return spec, root
    if name:
        return specs[0], folder  # the check names every file it lacks
    expected = "; ".join(f"{s.graphs[0].path} for {s.name}" for s in specs)
    raise InvalidInput(f"{given} holds none of the models imagier knows (it looked for {expected})", path=str(given))


def _folders_within(folder: Path, depth: int = 3, limit: int = 500) -> list[Path]:
    """The folder and those inside it, shallowest first, down to `depth` levels (the hub's cache keeps a
    model in models--OWNER--NAME/snapshots/REVISION/), at most `limit` of them: a home folder given by
    mistake is not walked whole."""
    found, level = [folder], [folder]
    for _ in range(depth):
        level = [child for parent in level for child in sorted(parent.iterdir()) if child.is_dir()]
        found += level
        if len(found) >= limit:
            break
    return found[:limit]


# ---- the hub ----------------------------------------------------------------------------------------------

def get(name: str, progress: Callable[[dict], None] | None = None, *, force: bool = False,
        cancel: threading.Event | None = None) -> dict:
    """Download the model from the model hub (unless it is installed already, or `force`) and install it;
    returns its catalogue entry with "fetched": whether it was downloaded now. Every file is checked against
    the SHA-256 the hub states for it; progress gets {"done", "total" (bytes), "file"}; `cancel` stops the
    download (a Conflict, nothing installed)."""
    spec = downloadable(name)
    if not force and locate(spec) is not None:
        return {**describe(spec), "fetched": False}
    import huggingface_hub.constants as hub
    if hub.HF_HUB_OFFLINE:
        raise NotFound(f"the {spec.label} could not be fetched from the model hub (offline: HF_HUB_OFFLINE is "
                       f"set): {spec.how_to_provide}", model=spec.name)
    listing, revision = _hub_listing(spec, hub.ENDPOINT)
    staged = _staging(spec)
    try:
        hashes = _download(spec, listing, revision, hub.ENDPOINT, staged, progress, cancel)
        check_folder(spec, staged)
        entry = _install(spec, staged, {"source": spec.hub_repo, "revision": revision, "endpoint": hub.ENDPOINT,
                                        "sha256": hashes})
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return {**entry, "fetched": True}


def fetch_if_absent(name: str | None, model_path=None, progress: Callable[[dict], None] | None = None) -> dict | None:
    """Download the model `name` (or its fp32 files, for "NAME-int8") when an operation is about to use it
    and this machine lacks it, so that the download shows its progress rather than happening silently when
    the model is first loaded; None when there is nothing to fetch (a built-in model, a `model_path` given,
    a model installed already), else its entry as `get` returns it."""
    spec = downloadables().get((name or "").removesuffix("-int8"))
    if spec is None or model_path is not None or locate(spec) is not None:
        return None
    return get(spec.name, progress)


def _hub_listing(spec: Downloadable, endpoint: str) -> tuple[dict[str, dict], str]:
    """{file: {"size", "sha256" or "blob" (git's id, for files outside LFS)}} of the files to fetch, and
    the repository's revision (so every file comes from the same one)."""
    from huggingface_hub import HfApi
    try:
        info = HfApi(endpoint=endpoint).model_info(spec.hub_repo, files_metadata=True)
    except Exception as e:  # offline, hub down, repository moved: every cause gets the same way out
        raise NotFound(f"the {spec.label} could not be fetched from the model hub ({type(e).__name__}: "
                       f"{str(e).splitlines()[0][:200] if str(e) else ''}): {spec.how_to_provide}",
                       model=spec.name) from None
    files = {s.rfilename: {"size": s.lfs.size if s.lfs else s.size, "sha256": s.lfs.sha256 if s.lfs else None,
                           "blob": s.blob_id} for s in info.siblings or []}
    missing = [f for f in spec.required if f not in files]
    if missing:
        raise NotFound(f"the hub repository {spec.hub_repo} lacks {', '.join(missing)}: {spec.how_to_provide}",
                       model=spec.name)
    return {f: files[f] for f in spec.required + spec.extras if f in files}, info.sha


def _download(spec: Downloadable, listing: dict, revision: str, endpoint: str, into: Path,
              progress: Callable[[dict], None] | None, cancel: threading.Event | None) -> dict[str, str]:
    """Fetch the listed files into the folder, each checked as it arrives; returns their SHA-256."""
    from huggingface_hub import get_session
    from huggingface_hub.utils import build_hf_headers
    total = sum(f["size"] or 0 for f in listing.values())
    done, hashes = 0, {}
    for relative, stated in listing.items():
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        sha256, size = hashlib.sha256(), 0
        url = f"{endpoint}/{spec.hub_repo}/resolve/{revision}/{quote(relative)}"  # the hub's download URL
        try:
            with get_session().stream("GET", url, headers=build_hf_headers(), follow_redirects=True,
                                      timeout=60) as response, open(target, "wb") as out:
                response.raise_for_status()
                for chunk in response.iter_bytes(1 << 20):
                    if cancel is not None and cancel.is_set():
                        raise Conflict(f"the download of {spec.name} was cancelled: nothing was installed",
                                       model=spec.name)
                    out.write(chunk)
                    sha256.update(chunk)
                    size += len(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress({"done": done, "total": total, "file": relative})
        except Conflict:
            raise
        except Exception as e:
            raise NotFound(f"{relative} of the {spec.label} could not be downloaded from {url} "
                           f"({type(e).__name__}: {e}): {spec.how_to_provide}", model=spec.name,
                           file=relative) from None
        _verify(spec, relative, target, stated, sha256.hexdigest(), size)
        hashes[relative] = sha256.hexdigest()
    return hashes


def _verify(spec: Downloadable, relative: str, path: Path, stated: dict, sha256: str, size: int) -> None:
    if stated["sha256"] is not None:
        ok, what, expected = sha256 == stated["sha256"], f"SHA-256 is {sha256}", stated["sha256"]
    else:  # a small file kept in git itself: the hub states its git blob id
        blob = _git_blob_id(path)
        ok, what, expected = blob == stated["blob"], f"git blob id is {blob}", stated["blob"]
    if not ok:
        raise InvalidInput(f"{relative} downloaded from {spec.hub_repo} is corrupt ({size} bytes, where the hub "
                           f"states {stated['size']}): its {what} where the hub states {expected}; nothing was "
                           f"installed, try again", model=spec.name, file=relative)


def _git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


_hashes: dict[tuple, str] = {}


def file_hash(path: Path) -> str:
    """SHA-256 of a file, remembered while its size and modification time stay the same."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                digest.update(chunk)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


# ---- this machine's speed -----------------------------------------------------------------------------

SPEED_FILE = "speed.json"


def measured(key: str, measure: Callable[[], float]) -> float:
    """A figure of this machine (seconds per image of a model) measured once and kept in the cache under
    `key`: the key names what the figure depends on (the model's files, the number of cores)."""
    path = cache_dir() / SPEED_FILE
    try:
        figures = json.loads(path.read_text())
    except (OSError, ValueError):
        figures = {}
    if key not in figures:
        figures[key] = measure()
        _cache_root()
        partial = path.with_name(f"{SPEED_FILE}.partial-{os.getpid()}")
        partial.write_text(json.dumps(figures, indent=2))
        partial.replace(path)
    return float(figures[key])
