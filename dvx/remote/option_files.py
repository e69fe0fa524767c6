"""Local files a remote's options name (an SSH key and its companions, a known_hosts file, a
CA bundle, a credentials file), which the client libraries open and read whole, by name.

The project config is committed, so a clone may name any path there: each such file is
checked before a library is handed its name. A FIFO or a terminal there would hold the
command forever (Ctrl-C included, the read being in a library's thread), and /dev/zero or a
huge file would be read until memory runs out.
"""

from __future__ import annotations

import errno
import os
import stat

from dvx.fsutil import NotRegularFileError, not_regular_file

# Far more than any key, list of host keys, CA bundle or credentials file holds.
OPTION_FILE_LIMIT = 8 << 20


def check_option_file(path: str) -> None:
    """An OSError naming `path` unless it is a regular file (a symbolic link to one counts)
    of at most OPTION_FILE_LIMIT bytes: FileNotFoundError if nothing is there,
    NotRegularFileError for a folder, FIFO, socket or device, EFBIG for a larger file. Only
    a stat: nothing is opened, so nothing waits and no device is touched."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise not_regular_file(path, st.st_mode)
    if st.st_size > OPTION_FILE_LIMIT:
        raise OSError(errno.EFBIG, f"larger than {OPTION_FILE_LIMIT >> 20} MiB, far more than "
                                   "such a file holds", path)


def is_refused_file(exc: OSError) -> bool:
    """Whether `exc` is check_option_file's refusal of a file that is there (not a regular
    file, or too large), as against a file that is missing or cannot be read."""
    return isinstance(exc, NotRegularFileError) or exc.errno == errno.EFBIG
