"""``robomem-ingest-node``: the memory server's ingest half on its own.

Same node as :mod:`robomem.ros.memory_server` (the memory lives in-process, so there is no separate
"ingest" process feeding a remote memory); here ``enable_services`` defaults to false: it builds a memory
from the camera streams and saves it (``save_directory``, ``save_period_s``, final save on shutdown)
without serving queries. Set ``enable_services:=true`` to get the full server.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from robomem.ros.memory_server import run


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run("robomem_ingest", False, argv if argv is not None else sys.argv)


if __name__ == "__main__":
    sys.exit(main())
