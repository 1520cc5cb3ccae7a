"""The errors imagier raises. Each carries a message meant for a researcher, naming the item at fault."""


class ImagierError(Exception):
    """Base class: an operation was refused and the project is unchanged."""

    status = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": self.message, **self.details}


class InvalidInput(ImagierError):
    """A value, filter, CSV cell or parameter that cannot be used."""

    status = 400


class NotFound(ImagierError):
    """A property, tag, file, view or operation that the project does not have."""

    status = 404


class Conflict(ImagierError):
    """The request contradicts the project's state: a duplicate name, a tag cycle, nothing to undo."""

    status = 409


class Forbidden(ImagierError):
    """A path outside the folders the server may show (its allowed roots), or a write to a project that
    is open read-only (a read-only file or folder)."""

    status = 403


class ProjectFileError(ImagierError):
    """The file is not an imagier project, or was made by a newer version."""

    status = 400


def refuse_nul(path, parameter: str):
    """`path` itself, or InvalidInput naming `parameter` when it holds a NUL character: no file name can,
    and the operating system's calls would fail on it with a bare ValueError."""
    if "\x00" in str(path):
        raise InvalidInput(f"the {parameter} {str(path)[:200]!r} contains a NUL character, which no file name "
                           "can hold", parameter=parameter)
    return path
