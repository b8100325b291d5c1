"""Entry point for `flask --app app` and gunicorn (`app:app`)."""

import sys

from vip import create_app
from vip.config import StartupError

try:
    app = create_app()
except StartupError as error:
    print(f"Error: {error}", file=sys.stderr)
    # 4 is gunicorn's "App failed to load": its master stops instead of restarting workers.
    sys.exit(4)
