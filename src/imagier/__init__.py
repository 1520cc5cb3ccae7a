"""imagier: explore, cluster and annotate large image corpora on a laptop.

    import imagier
    project = imagier.open("corpus.imagier")
"""

from .errors import Conflict, ImagierError, InvalidInput, NotFound, ProjectFileError
from ._version import __version__
from .project import Project
from .vectors import models  # imagier.models.catalogue(), .get(name), .add(path)


def open(path, create: bool = True) -> Project:  # noqa: A001 - mirrors the builtin on purpose
    """Open the project file at `path`, creating it when missing (unless create=False)."""
    return Project(path, create=create)


__all__ = ["open", "Project", "models", "ImagierError", "InvalidInput", "NotFound", "Conflict", "ProjectFileError"]
