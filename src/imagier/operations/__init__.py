"""The rules over the project file: each part here validates its arguments, opens one transaction through
store/ (an undoable one through the op log), and refuses with an ImagierError that names the item at fault.
store/ below holds only the SQL, as functions over an open connection."""
