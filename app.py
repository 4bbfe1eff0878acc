"""Start the jury's review app: ``python app.py [OPTIONS]`` is ``assessor app [OPTIONS]``.

Settings come from ``ASSESSOR_*`` environment variables and ``.env`` (host, port, root path:
``ASSESSOR_APP__HOST``, ``ASSESSOR_APP__PORT``, ``ASSESSOR_APP__ROOT_PATH``), or the options
(``python app.py --help``).
"""

import sys

from assessor.cli import main

if __name__ == "__main__":
    sys.argv[1:1] = ["app"]
    main()
